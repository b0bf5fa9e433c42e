"""The flash cells of one bank: bytes, erase units and (where the part has ECC) which program
units have been written since their last erase."""

from __future__ import annotations

from ..chips.model import Bank, Sector


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
        off = address - self.base
        self.data[off : off + len(data)] = data
        if self.ecc_unit and mark_written:
            first = off // self.ecc_unit
            last = (off + len(data) - 1) // self.ecc_unit
            for unit in range(first, last + 1):
                self.written[unit] = 1

    def erase(self, address: int, length: int) -> None:
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
