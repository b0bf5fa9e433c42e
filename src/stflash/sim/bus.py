"""An address-decoded bus: regions mapped at addresses, accessed 8/16/32 bits at a time by a master.

Masters are ``"cpu"`` (code running on the chip), ``"debug"`` (a debug probe through a MEM-AP) and
``"bootloader"`` (the ROM system bootloader acting for a UART/DFU host). Regions decide what a
master may do; the bus only routes. An address no region claims answers with ``BusFault``.

Regions carry a priority: small overlays (the unique ID, the flash-size register) sit above the
ROM or filler they live in. ROM-like regions are *composable*: one access may straddle two of
them (a 32-bit read that covers the end of the unique ID and the flash-size register).
"""

from __future__ import annotations

from collections.abc import Callable

from .faults import BusFault

MASTERS = ("cpu", "debug", "bootloader")
SIZES = (1, 2, 4)


def check_master(master: str) -> None:
    if master not in MASTERS:
        raise ValueError(f"unknown bus master {master!r} (expected one of {', '.join(MASTERS)})")


class Region:
    """A decoded address range. Subclasses implement ``read``/``write`` for one access."""

    composable = False  # bytes can be combined with neighbouring composable regions
    unaligned_ok = False  # accesses need not be naturally aligned
    bulk = False  # read_bytes/write_bytes are plain memory copies

    def __init__(self, name: str, start: int, size: int) -> None:
        self.name = name
        self.start = start
        self.size = size

    @property
    def end(self) -> int:
        return self.start + self.size

    def contains(self, address: int, length: int = 1) -> bool:
        return self.start <= address and address + length <= self.end

    def read(self, address: int, size: int, master: str) -> int:
        raise BusFault(address, f"{self.name} cannot be read")

    def write(self, address: int, size: int, value: int, master: str) -> None:
        raise BusFault(address, f"{self.name} is read-only")

    def read_bytes(self, address: int, length: int, master: str) -> bytes:
        return bytes(self.read(address + i, 1, master) for i in range(length))

    def write_bytes(self, address: int, data: bytes, master: str) -> None:
        for i, b in enumerate(data):
            self.write(address + i, 1, b, master)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.start:#010x}+{self.size:#x}>"


class RamRegion(Region):
    """Plain read/write memory."""

    composable = True
    unaligned_ok = True
    bulk = True

    def __init__(self, name: str, start: int, size: int, data: bytearray | None = None) -> None:
        super().__init__(name, start, size)
        self.data = data if data is not None else bytearray(size)

    def read(self, address: int, size: int, master: str) -> int:
        off = address - self.start
        return int.from_bytes(self.data[off : off + size], "little")

    def write(self, address: int, size: int, value: int, master: str) -> None:
        off = address - self.start
        self.data[off : off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def read_bytes(self, address: int, length: int, master: str) -> bytes:
        off = address - self.start
        return bytes(self.data[off : off + length])

    def write_bytes(self, address: int, data: bytes, master: str) -> None:
        off = address - self.start
        self.data[off : off + len(data)] = data


class RomRegion(Region):
    """Read-only bytes (system memory, the unique ID, the flash-size register, fillers)."""

    composable = True
    unaligned_ok = True
    bulk = True

    def __init__(self, name: str, start: int, data: bytes) -> None:
        super().__init__(name, start, len(data))
        self.data = bytes(data)

    def read(self, address: int, size: int, master: str) -> int:
        off = address - self.start
        return int.from_bytes(self.data[off : off + size], "little")

    def read_bytes(self, address: int, length: int, master: str) -> bytes:
        off = address - self.start
        return self.data[off : off + length]

    def write_bytes(self, address: int, data: bytes, master: str) -> None:
        raise BusFault(address, f"{self.name} is read-only")


class RegisterFile(Region):
    """A peripheral stub: words that read back what was written, 0 where nothing was written."""

    def __init__(self, name: str, start: int, size: int, initial: dict[int, int] | None = None) -> None:
        super().__init__(name, start, size)
        self.words: dict[int, int] = dict(initial or {})  # word offset -> value

    def read(self, address: int, size: int, master: str) -> int:
        off = address - self.start
        word = self.words.get(off & ~3, 0)
        return sub_word(word, off & 3, size)

    def write(self, address: int, size: int, value: int, master: str) -> None:
        off = address - self.start
        lane, mask = lane_value(value, off & 3, size)
        self.words[off & ~3] = (self.words.get(off & ~3, 0) & ~mask) | lane


ReadFn = Callable[[int, int, str], int]  # (offset, size, master) -> value
WriteFn = Callable[[int, int, int, str], None]  # (offset, size, value, master)


class HandlerRegion(Region):
    """A register block whose accesses go to callbacks (offsets are relative to ``start``)."""

    def __init__(self, name: str, start: int, size: int, read: ReadFn, write: WriteFn) -> None:
        super().__init__(name, start, size)
        self._read = read
        self._write = write

    def read(self, address: int, size: int, master: str) -> int:
        return self._read(address - self.start, size, master)

    def write(self, address: int, size: int, value: int, master: str) -> None:
        self._write(address - self.start, size, value, master)


class WindowRegion(HandlerRegion):
    """A memory-like window served by callbacks (option-byte areas, data EEPROM): byte-composable
    and readable at any alignment."""

    composable = True
    unaligned_ok = True


def sub_word(word: int, byte_offset: int, size: int) -> int:
    """The ``size``-byte lane at ``byte_offset`` of a 32-bit register value."""
    return (word >> (8 * byte_offset)) & ((1 << (8 * size)) - 1)


def lane_value(value: int, byte_offset: int, size: int) -> tuple[int, int]:
    """A narrow write placed in its byte lanes: (value shifted into place, mask of written bits)."""
    mask = ((1 << (8 * size)) - 1) << (8 * byte_offset)
    return (value << (8 * byte_offset)) & mask, mask


class Bus:
    """Routes accesses to the highest-priority region that holds the whole access."""

    def __init__(self) -> None:
        self._entries: list[tuple[int, int, Region]] = []
        self._serial = 0

    def map(self, region: Region, priority: int = 0) -> Region:
        self._serial += 1
        self._entries.append((priority, self._serial, region))
        self._entries.sort(key=lambda e: (-e[0], e[1]))
        return region

    def unmap(self, name: str) -> None:
        self._entries = [e for e in self._entries if e[2].name != name]

    def regions(self) -> list[Region]:
        return [e[2] for e in self._entries]

    def region_named(self, name: str) -> Region | None:
        for _, _, r in self._entries:
            if r.name == name:
                return r
        return None

    def find(self, address: int, length: int = 1) -> Region | None:
        """The region answering the whole access, or None when none does (or when a
        higher-priority region covers only part of it: then the access is composed per byte)."""
        end = address + length
        for _, _, region in self._entries:
            if region.contains(address, length):
                return region
            if region.start < end and address < region.end:
                return None
        return None

    def _entry_at(self, address: int) -> tuple[int, Region] | None:
        for prio, _, region in self._entries:
            if region.contains(address):
                return prio, region
        return None

    # -- single accesses ------------------------------------------------------------------------
    def read(self, address: int, size: int, master: str) -> int:
        _check(address, size)
        region = self.find(address, size)
        if region is not None:
            if address % size and not region.unaligned_ok:
                raise BusFault(address, f"unaligned {8 * size}-bit access to {region.name}")
            return region.read(address, size, master)
        parts = self._composite(address, size)
        return int.from_bytes(bytes(r.read(address + i, 1, master) for i, r in enumerate(parts)), "little")

    def write(self, address: int, size: int, value: int, master: str) -> None:
        _check(address, size)
        region = self.find(address, size)
        if region is not None:
            if address % size and not region.unaligned_ok:
                raise BusFault(address, f"unaligned {8 * size}-bit access to {region.name}")
            region.write(address, size, value & ((1 << (8 * size)) - 1), master)
            return
        parts = self._composite(address, size)
        for i, r in enumerate(parts):
            r.write(address + i, 1, (value >> (8 * i)) & 0xFF, master)

    def _composite(self, address: int, size: int) -> list[Region]:
        parts = []
        for i in range(size):
            region = self.find(address + i, 1)
            if region is None:
                raise BusFault(address + i, "nothing is mapped at this address")
            if not region.composable:
                raise BusFault(address, f"access straddles the end of {region.name}")
            parts.append(region)
        return parts

    # -- blocks ---------------------------------------------------------------------------------
    def _chunk(self, address: int, length: int) -> tuple[Region, int]:
        """The region answering at ``address`` and how many bytes from there it answers for."""
        found = self._entry_at(address)
        if found is None:
            raise BusFault(address, "nothing is mapped at this address")
        prio, region = found
        n = min(length, region.end - address)
        for p, _, other in self._entries:
            if p <= prio:
                break
            if address < other.start < address + n:
                n = other.start - address
        return region, n

    def read_block(self, address: int, length: int, master: str) -> bytes:
        out = bytearray()
        while length > 0:
            region, n = self._chunk(address, length)
            if region.bulk:
                out += region.read_bytes(address, n, master)
            else:
                out += _split_read(region, address, n, master)
            address += n
            length -= n
        return bytes(out)

    def write_block(self, address: int, data: bytes, master: str, width: int = 4) -> None:
        """Write ``data`` as a probe or a core would: naturally aligned accesses of at most
        ``width`` bytes (bulk copies for plain memory)."""
        if width not in SIZES:
            raise ValueError(f"access width {width} not in {SIZES}")
        view = memoryview(bytes(data))
        pos = 0
        while pos < len(view):
            region, n = self._chunk(address + pos, len(view) - pos)
            if region.bulk and isinstance(region, RamRegion):
                region.write_bytes(address + pos, bytes(view[pos : pos + n]), master)
            else:
                _split_write(region, address + pos, bytes(view[pos : pos + n]), master, width)
            pos += n


def _check(address: int, size: int) -> None:
    if size not in SIZES:
        raise ValueError(f"access size {size} not in {SIZES}")
    if not 0 <= address <= 0xFFFF_FFFF - size + 1:
        raise BusFault(address, "address outside the 32-bit space")


def _pieces(address: int, length: int, width: int) -> list[tuple[int, int]]:
    out = []
    end = address + length
    while address < end:
        size = width
        while size > 1 and (address % size or address + size > end):
            size //= 2
        out.append((address, size))
        address += size
    return out


def _split_read(region: Region, address: int, length: int, master: str) -> bytes:
    out = bytearray()
    for a, size in _pieces(address, length, 4):
        out += region.read(a, size, master).to_bytes(size, "little")
    return bytes(out)


def _split_write(region: Region, address: int, data: bytes, master: str, width: int) -> None:
    for a, size in _pieces(address, len(data), width):
        off = a - address
        region.write(a, size, int.from_bytes(data[off : off + size], "little"), master)
