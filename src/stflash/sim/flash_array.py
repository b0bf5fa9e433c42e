"""The flash cells of one bank: bytes, erase units and (where the part has ECC) which program
units have been written since their last erase."""

from __future__ import annotations

from collections.abc import Callable

from ..chips.model import Bank, Sector
from .faults import PowerLost

# asked before each program/erase: ("program"|"erase", address, length) -> None (go ahead) or
# the fraction of the operation done when the supply fails
PowerGuard = Callable[[str, int, int], "float | None"]


class FlashBank:
    """One bank of main flash.

    ``data`` is the bank's content as a ``bytearray`` (it may be a memory-mapped buffer supplied by
    the persistence layer). ``ecc_unit`` is the size of the unit the hardware protects with ECC
    (8 bytes on L4-class parts, the flash word on H7); 0 means the family has no ECC, and then a
    unit counts as "written" only through its content.
    """

    def __init__(
        self,
        index: int,
        bank: Bank,
        sectors: list[Sector],
        erased: int,
        *,
        ecc_unit: int = 0,
        data: bytearray | None = None,
        power_guard: PowerGuard | None = None,
    ) -> None:
        self.index = index
        self.base = bank.base
        self.size = bank.size
        self.first_number = bank.first_number
        self.erased = erased
        self.sectors = sectors
        if data is None:
            data = bytearray([erased]) * self.size
        if len(data) != self.size:
            raise ValueError(f"bank {index}: {len(data)} bytes given for a {self.size}-byte bank")
        self.data = data
        self.ecc_unit = ecc_unit
        self.written = bytearray(self.size // ecc_unit) if ecc_unit else bytearray()
        self.corrupt: set[int] = set()  # ECC units whose reads report a double error (H7)
        self.power_guard = power_guard

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, address: int, length: int = 1) -> bool:
        return self.base <= address and address + length <= self.end

    def sector_at(self, address: int) -> Sector | None:
        for s in self.sectors:
            if s.address <= address < s.end:
                return s
        return None

    def sector_numbered(self, number: int) -> Sector | None:
        for s in self.sectors:
            if s.number == number:
                return s
        return None

    def position(self, sector: Sector) -> int:
        """Index of ``sector`` inside this bank (0 = first erase unit of the bank)."""
        return self.sectors.index(sector)

    # -- content ----------------------------------------------------------------------------
    def read(self, address: int, length: int) -> bytes:
        off = address - self.base
        return bytes(self.data[off : off + length])

    def is_erased(self, address: int, length: int) -> bool:
        off = address - self.base
        chunk = self.data[off : off + length]
        return chunk.count(self.erased) == len(chunk)

    def unit_written(self, address: int) -> bool:
        """Has the ECC unit holding ``address`` been programmed since its last erase?"""
        if not self.ecc_unit:
            return not self.is_erased(address, 1)
        return bool(self.written[(address - self.base) // self.ecc_unit])

    def store(self, address: int, data: bytes, *, mark_written: bool = True) -> None:
        if self.power_guard is not None:
            done = self.power_guard("program", address, len(data))
            if done is not None:
                self._interrupted_program(address, data, done)
        off = address - self.base
        self.data[off : off + len(data)] = data
        if self.ecc_unit and mark_written:
            first = off // self.ecc_unit
            last = (off + len(data) - 1) // self.ecc_unit
            for unit in range(first, last + 1):
                self.written[unit] = 1

    def erase(self, address: int, length: int) -> None:
        if self.power_guard is not None:
            done = self.power_guard("erase", address, length)
            if done is not None:
                self._interrupted_erase(address, length, done)
        off = address - self.base
        self.data[off : off + length] = bytes([self.erased]) * length
        if self.ecc_unit:
            first, count = off // self.ecc_unit, length // self.ecc_unit
            self.written[first : first + count] = bytes(count)
            self.corrupt -= set(range(first, first + count))

    def erase_sector(self, sector: Sector) -> None:
        self.erase(sector.address, sector.size)

    def erase_all(self) -> None:
        self.erase(self.base, self.size)

    def unit_index(self, address: int) -> int:
        return (address - self.base) // self.ecc_unit if self.ecc_unit else 0

    # -- a supply failure in the middle of an operation ---------------------------------------------
    def _boundary(self, address: int, length: int, done: float) -> tuple[int, int]:
        """(bytes fully done, size of the unit caught half-way), on 4-byte/ECC-unit boundaries."""
        unit = self.ecc_unit or 4
        full = int(length * done) // unit * unit
        return full, min(unit, length - full)

    def _damage(self, address: int, size: int, target: bytes) -> None:
        """The unit being worked on when the supply failed: some cells reached the target, others
        did not; on ECC parts its check bits no longer match (reads report a double error)."""
        off = address - self.base
        old = self.data[off : off + size]
        mixed = bytes((o if i % 2 else t) for i, (o, t) in enumerate(zip(old, target, strict=True)))
        self.data[off : off + size] = mixed
        if self.ecc_unit:
            unit = off // self.ecc_unit
            self.written[unit] = 1
            self.corrupt.add(unit)

    def _interrupted_program(self, address: int, data: bytes, done: float) -> None:
        full, part = self._boundary(address, len(data), done)
        self.power_guard, guard = None, self.power_guard
        try:
            if full:
                self.store(address, data[:full])
            if part:
                self._damage(address + full, part, data[full : full + part])
        finally:
            self.power_guard = guard
        raise PowerLost(f"supply lost while programming {address:#010x} ({full} of {len(data)} bytes done)")

    def _interrupted_erase(self, address: int, length: int, done: float) -> None:
        full, part = self._boundary(address, length, done)
        self.power_guard, guard = None, self.power_guard
        try:
            if full:
                self.erase(address, full)
            if part:
                self._damage(address + full, part, bytes([self.erased]) * part)
        finally:
            self.power_guard = guard
        raise PowerLost(f"supply lost while erasing {address:#010x} ({full} of {length} bytes erased)")
