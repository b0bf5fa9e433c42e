"""The memory map as the system bootloader's Read/Write Memory and Go commands see it.

Valid areas per command (AN2606 "Bootloader memory management", uart.md 6.1): flash (read, write,
go), RAM outside the ROM's own part (read, write, go), system memory (read), option bytes (read;
write only at the area's base, which rewrites the area and resets), OTP (read, write), L0/L1 data
EEPROM (read, write), and on F2/F4/F7 the virtual byte at 0xFFFF0000 that selects the voltage
range (write only). Everything else is NACKed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...chips.model import Chip, FlashKind
from ..chip import SimChip

VIRTUAL_BYTE = 0xFFFF_0000  # F2/F4/F7 voltage-range byte (AN2606 Table 4)
VOLTAGE_RANGE_PSIZE = {0: 8, 1: 16, 2: 16, 3: 32, 4: 64}  # 1.8-2.1 V ... 2.7-3.6 V, 4 = VPP (x64)
LOWEST_RANGE = 0  # the ROM starts in the lowest range: byte programming (uart.md 3.6)

# Flash write address alignment the ROM requires, per series (AN2606 Table 7); 4 elsewhere.
WRITE_ALIGN = {"C0": 8, "F7": 8, "G4": 8, "H7": 8, "L0": 8, "L1": 8, "L4": 8, "U0": 8, "WB": 8, "WL": 8,
               "H5": 16, "L5": 16, "U5": 16, "WBA": 16}

READ, WRITE, GO = "read", "write", "go"
_RIGHTS = {
    "flash": {READ, WRITE, GO},
    "ram": {READ, WRITE, GO},
    "system": {READ},
    "options": {READ, WRITE},
    "otp": {READ, WRITE},
    "eeprom": {READ, WRITE},
    "vbyte": {WRITE},
}


@dataclass(frozen=True)
class Area:
    kind: str  # a key of _RIGHTS
    start: int
    end: int  # exclusive

    def contains(self, address: int, length: int = 1) -> bool:
        return self.start <= address and address + length <= self.end

    def allows(self, what: str) -> bool:
        return what in _RIGHTS[self.kind]


def ram_windows(chip: Chip) -> list[tuple[int, int]]:
    """(start, end) of each RAM window the ROM opens: from each ``uart_ram`` address to the end of
    the contiguous RAM it lies in."""
    regions = sorted((r.start, r.end) for r in chip.ram)
    out = []
    for first in chip.bootloader.uart_ram:
        end = None
        for start, stop in regions:
            if start <= first < stop:
                end = stop
            elif end is not None and start == end:
                end = stop  # the next region follows on: one contiguous RAM
        if end is not None:
            out.append((first, end))
    return out


def areas(sim: SimChip) -> list[Area]:
    chip = sim.chip
    out = [Area("flash", b.base, b.base + b.size) for b in sim.banks]
    out += [Area("ram", a, b) for a, b in ram_windows(chip)]
    out.append(Area("system", chip.system_memory.start, chip.system_memory.end))
    if chip.option_bytes is not None:
        out.append(Area("options", chip.option_bytes.start, chip.option_bytes.end))
    if chip.otp is not None:
        out.append(Area("otp", chip.otp.start, chip.otp.end))
    ee_base, ee_size = chip.extra_value("eeprom_base"), chip.extra_value("eeprom_size")
    if ee_base and ee_size:
        out.append(Area("eeprom", ee_base, ee_base + ee_size))
    if chip.flash_kind in (FlashKind.F2_F4, FlashKind.F7):
        out.append(Area("vbyte", VIRTUAL_BYTE, VIRTUAL_BYTE + 4))
    return out


def area_at(sim: SimChip, address: int) -> Area | None:
    for area in areas(sim):
        if area.contains(address):
            return area
    return None


def write_align(chip: Chip) -> int:
    return WRITE_ALIGN.get(chip.family.upper(), 4)
