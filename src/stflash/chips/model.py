"""The shape of a chip description. Rows live in ``stflash.chips.data``; nothing here knows a part.

A chip is data: device id, memory map, flash geometry (banks of sectors), the flash controller
kind that drives it, and option-byte fields. Code that needs per-family behaviour switches on
``FlashKind`` (a handful of controller designs), never on part names.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field


class FlashKind(str, enum.Enum):
    """Flash controller designs; each has one simulator model and one probe driver."""

    F0_F1_F3 = "f0f1f3"  # FPEC: KEYR, halfword programming, page erase via AR
    F2_F4 = "f2f4"  # sectors, PSIZE, SNB
    F7 = "f7"  # F4-like, ERSERR, OPTCR1 boot addresses
    L0_L1 = "l0l1"  # PECR, PEKEYR/PRGKEYR, half-page programming, erased = 0x00
    L4 = "l4"  # double-word, PNB/BKER
    G0 = "g0"  # L4-like, CFGBSY, BKER at bit 13
    G4 = "g4"  # L4-like, DBANK with a hole
    WB = "wb"  # L4-like at 0x58004000, CPU2 secure area
    H7 = "h7"  # two banks, 256-bit (128-bit) flash words, CCR, OPTSR_CUR/PRG
    NONE = "none"  # no internal flash (STM32MP1)


class Link(str, enum.Enum):
    STLINK = "stlink"
    DFU = "dfu"
    UART = "uart"


@dataclass(frozen=True)
class SectorRun:
    """``count`` erase units of ``size`` bytes in a row."""

    size: int
    count: int


@dataclass(frozen=True)
class Bank:
    """A flash bank: base address and its erase units in address order.

    ``first_number`` is the hardware number of the first sector/page as the controller wants it
    (e.g. SNB 0x10 for bank 2 of an F429, 0 with BKER=1 on L4/G0/H7).
    """

    base: int
    runs: tuple[SectorRun, ...]
    first_number: int = 0

    @property
    def size(self) -> int:
        return sum(r.size * r.count for r in self.runs)

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass(frozen=True)
class Sector:
    """One erase unit as the planner and drivers see it."""

    index: int  # position in the chip's whole sector list
    bank: int  # bank index (0 = first bank)
    number: int  # number as written to the controller (SNB/PNB)
    address: int
    size: int

    @property
    def end(self) -> int:
        return self.address + self.size


def sectors_of(banks: tuple[Bank, ...] | list[Bank]) -> list[Sector]:
    """Every erase unit of a bank layout, numbered as the controller wants them."""
    out: list[Sector] = []
    for bank_index, bank in enumerate(banks):
        addr, number = bank.base, bank.first_number
        for run in bank.runs:
            for _ in range(run.count):
                out.append(Sector(len(out), bank_index, number, addr, run.size))
                addr += run.size
                number += 1
    return out


@dataclass(frozen=True)
class Region:
    """A named memory range (RAM, system memory, OTP, option bytes, ...)."""

    name: str
    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size

    def contains(self, address: int, length: int = 1) -> bool:
        return self.start <= address and address + length <= self.end


@dataclass(frozen=True)
class OptionField:
    """One option-byte field: where it sits in the controller's option register and what it means.

    ``register`` is the register's name (``OPTCR``, ``OPTR``, ``OPTSR_PRG``...), ``address`` its
    absolute address on the debug path. ``values`` names well-known values; ``dangerous`` lists the
    values that are refused without an explicit flag, each with the reason shown to the user.
    """

    name: str
    register: str
    address: int
    shift: int
    width: int
    default: int
    description: str
    values: tuple[tuple[int, str], ...] = ()
    dangerous: tuple[tuple[int, str], ...] = ()
    current_address: int | None = None  # where the live value is read when it differs (H7 *_CUR)

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.shift

    def extract(self, register_value: int) -> int:
        return (register_value >> self.shift) & ((1 << self.width) - 1)

    def insert(self, register_value: int, value: int) -> int:
        return (register_value & ~self.mask) | ((value << self.shift) & self.mask)

    def meaning(self, value: int) -> str | None:
        return dict(self.values).get(value)

    def danger(self, value: int) -> str | None:
        return dict(self.dangerous).get(value)

    # read-out protection: level 0 is the field's factory default on every family (0xAA; 0xA5 on
    # F1), level 2 its dangerous value where the family has one (0xCC), level 1 anything else
    def rdp_level(self, value: int) -> int:
        if value == self.default:
            return 0
        return 2 if self.danger(value) is not None else 1

    def rdp_value(self, level: int) -> int:
        """A value that means ``level`` (what a link reports when the chip hides the real byte)."""
        if level == 0:
            return self.default
        return next(v for v, _ in self.values if v != self.default and (self.danger(v) is None) == (level == 1))


@dataclass(frozen=True)
class ForbiddenCombination:
    """Field values that together brick the part (e.g. BCM4=0 and BCM7=0 on a dual-core H7)."""

    fields: tuple[tuple[str, int], ...]
    reason: str


@dataclass(frozen=True)
class Bootloader:
    """The ROM system bootloader: its id byte, protocol versions and the pins each link uses."""

    id: int  # bootloader id byte (AN2606), read at the end of system memory (0 = the ROM has none)
    uart_version: int  # AN3155 protocol version returned by Get (0 = no UART bootloader)
    uart_pins: str  # e.g. "USART1 PA9/PA10"
    dfu: bool
    dfu_pins: str = ""  # e.g. "USB OTG FS PA11/PA12"
    dfu_version: int = 0  # bcdDevice of the DFU device (e.g. 0x2200; 0 = not known)
    id_address: int = 0  # where the id byte is read with Read Memory (0 = no id byte)
    # First address of each RAM window the ROM lets a host use (Read/Write Memory, Go); each window
    # runs to the end of the contiguous RAM it starts in. The ROM keeps the RAM below for itself
    # (AN2606 "RAM" column of the device-dependent parameters; uart.md section 10). Empty = no RAM
    # access (AN2606 "NA": F04x, F070x6, L01x).
    uart_ram: tuple[int, ...] = ()
    mass_erase: bool = True  # the ROM takes the (bank) mass-erase codes; L0/L1 NACK them (uart.md 3.8)
    # The DFU ROM's mass erase (DfuSe 0x41 alone) can be relied on. AN2606 lists "DFU bootloader
    # mass-erase not working" for H74x/H75x bootloader V13.3, and DFU cannot read which version a
    # chip has: hosts erase those parts sector by sector (dfu.md Q7).
    dfu_mass_erase: bool = True
    # From NRST release to the ROM listening for 0x7F (AN2606 "Bootloader startup timings": the
    # minimum it gives; None where our references give no figure). A character that arrives sooner
    # is lost.
    startup_ms: float | None = None

    def uart_ports(self) -> list[tuple[str, str]]:
        """Every USART and pin pair the ROM listens on, as ("USART2", "PA2/PA3"), in the order
        ``uart_pins`` lists them ("USART3 PB10/PB11 or PC10/PC11" is two)."""
        ports = []
        for entry in self.uart_pins.split(";"):
            match = _UART_ENTRY.match(entry)
            if match is None:
                continue
            for pins in re.split(r"\s+or\s+", match.group(2), flags=re.IGNORECASE):
                ports.append((match.group(1).upper(), pin_pair(pins)))
        return ports


_UART_ENTRY = re.compile(r"^\s*(US?ART\d+)\s+(.+?)\s*$", re.IGNORECASE)


def pin_pair(text: str) -> str:
    """"pa2 / pa3" -> "PA2/PA3" (annotations such as "(TX)" dropped)."""
    text = re.sub(r"\([^)]*\)", "", text)
    return "/".join(p.strip().upper() for p in text.split("/"))


@dataclass(frozen=True)
class Geometry:
    """A bank layout the part switches to when option field ``option`` holds ``value``.

    ``Chip.banks`` is the factory-default layout; e.g. an F76x with nDBANK=0 or a G47x with
    DBANK=0 uses one of these instead.
    """

    option: str
    value: int
    banks: tuple[Bank, ...]
    description: str = ""

    @property
    def size(self) -> int:
        return sum(b.size for b in self.banks)


@dataclass(frozen=True)
class Chip:
    """One device family member as stflash needs to know it."""

    name: str  # canonical part pattern, e.g. "STM32F401xE" ('x' matches any character)
    family: str  # "F4", "H7", ...
    dev_id: int
    description: str  # what st-info prints as descr, e.g. "F401xD/E"
    reference_manual: str
    cores: tuple[str, ...]  # ("cortex-m7", "cortex-m4") for dual core, AP order
    flash_kind: FlashKind
    banks: tuple[Bank, ...]
    write_unit: int  # bytes programmed at once (2, 4, 8, 16, 32)
    erased_value: int
    ram: tuple[Region, ...]
    system_memory: Region
    option_bytes: Region | None  # memory-mapped option area (None on H7: registers only)
    otp: Region | None
    flash_registers: int  # FLASH controller base address
    idcode_address: int  # DBGMCU_IDCODE
    flash_size_register: int
    uid_address: int
    dp_idcode: int  # SW-DP IDCODE seen on the wire
    bootloader: Bootloader
    option_fields: tuple[OptionField, ...] = ()
    forbidden: tuple[ForbiddenCombination, ...] = ()
    aliases: tuple[str, ...] = ()  # other part patterns served by the same row
    access_ports: tuple[int, ...] = (0,)  # MEM-AP number per core, same order as ``cores``
    notes: str = ""
    extra: tuple[tuple[str, int], ...] = field(default=())  # family-specific numbers (named)
    alt_geometries: tuple[Geometry, ...] = ()  # layouts selected by non-default option values

    # -- derived --------------------------------------------------------------------------
    @property
    def flash_base(self) -> int:
        return self.banks[0].base if self.banks else 0

    @property
    def flash_size(self) -> int:
        return sum(b.size for b in self.banks)

    @property
    def flash_end(self) -> int:
        return self.banks[-1].end if self.banks else 0

    @property
    def dual_bank(self) -> bool:
        return len(self.banks) > 1

    @property
    def dual_core(self) -> bool:
        return len(self.cores) > 1

    @property
    def ram_size(self) -> int:
        return sum(r.size for r in self.ram)

    def sectors(self) -> list[Sector]:
        return sectors_of(self.banks)

    def sector_at(self, address: int) -> Sector | None:
        for s in self.sectors():
            if s.address <= address < s.end:
                return s
        return None

    def option_field(self, name: str) -> OptionField | None:
        for f in self.option_fields:
            if f.name.lower() == name.lower():
                return f
        return None

    def extra_value(self, name: str) -> int | None:
        return dict(self.extra).get(name)

    def banks_for(self, options: Mapping[str, int]) -> tuple[Bank, ...]:
        """The bank layout in force for these option-field values (missing fields: factory default)."""
        given = {k.lower(): v for k, v in options.items()}
        for geometry in self.alt_geometries:
            if given.get(geometry.option.lower()) == geometry.value:
                return geometry.banks
        return self.banks

    def with_options(self, options: Mapping[str, int]) -> Chip:
        """This chip with the bank layout that ``options`` select (itself if that is the default)."""
        banks = self.banks_for(options)
        return self if banks is self.banks else dataclasses.replace(self, banks=banks)

    def matches(self, part: str) -> bool:
        """Does a user's part name (``stm32f401re``, ``STM32F401RET6``) belong to this row?"""
        p = part.strip().lower()
        return any(pattern_matches(pattern.lower(), p) for pattern in (self.name, *self.aliases))


def pattern_matches(pattern: str, part: str) -> bool:
    """Is the lower-case ``pattern`` ('x' matching any character) a prefix of the lower-case ``part``?"""
    return len(part) >= len(pattern) and all(c == "x" or c == q for c, q in zip(pattern, part, strict=False))
