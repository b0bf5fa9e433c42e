"""What a chip says about itself: unique ID, DBGMCU_IDCODE revision, CPUID, system-memory bytes.

The unique ID is deterministic from (part, seed) and shaped like ST's: wafer X/Y coordinates,
wafer number and a 7-character ASCII lot number.
"""

from __future__ import annotations

import hashlib

from ..chips.model import Chip

# Plausible silicon revisions (REV_ID, DBGMCU_IDCODE[31:16]) when the chip row gives none.
_REV_ID = {
    "F0": 0x1000,
    "F1": 0x2003,
    "F2": 0x2000,
    "F3": 0x1001,
    "F4": 0x1000,
    "F7": 0x1001,
    "L0": 0x1000,
    "L1": 0x1008,
    "L4": 0x1007,
    "G0": 0x1000,
    "G4": 0x2001,
    "WB": 0x2001,
    "H7": 0x2003,
}

# CPUID (0xE000ED00) per core: implementer ARM, variant/revision of a typical STM32 part.
CPUID = {
    "cortex-m0": 0x410C_C200,
    "cortex-m0+": 0x410C_C601,
    "cortex-m3": 0x412F_C231,
    "cortex-m4": 0x410F_C241,
    "cortex-m7": 0x411F_C272,
    "cortex-m33": 0x410F_D213,
}

_LOT_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def unique_id(chip: Chip, seed: int) -> bytes:
    """12 bytes: X (16 bit), Y (16 bit), wafer number, lot number (7 ASCII characters)."""
    h = hashlib.sha256(f"stflash-sim:{chip.name}:{seed}".encode()).digest()
    x = 0x10 + h[0] % 0x30
    y = 0x10 + h[1] % 0x30
    wafer = 1 + h[2] % 25
    lot = "".join(_LOT_CHARS[b % len(_LOT_CHARS)] for b in h[3:10])
    return x.to_bytes(2, "little") + y.to_bytes(2, "little") + bytes([wafer]) + lot.encode("ascii")


def rev_id(chip: Chip) -> int:
    given = chip.extra_value("rev_id")
    if given is not None:
        return given
    return _REV_ID.get(chip.family.upper(), 0x1000)


def idcode(chip: Chip) -> int:
    return (rev_id(chip) << 16) | (chip.dev_id & 0xFFF)


def system_memory_image(chip: Chip) -> bytes:
    """Stand-in content of the ROM: a vector table (stack in the first RAM, reset handler in the
    ROM), a synthetic byte pattern, and the bootloader id byte where AN2606 puts it."""
    region = chip.system_memory
    image = bytearray((bytes(range(256)) * (region.size // 256 + 1))[: region.size])
    if region.size >= 8 and chip.ram:
        ram = chip.ram[0]
        sp = ram.start + min(ram.size, 0x1000)
        image[0:4] = sp.to_bytes(4, "little")
        image[4:8] = ((region.start + 0x100) | 1).to_bytes(4, "little")
    bl = chip.bootloader
    if bl.id and bl.id_address and region.contains(bl.id_address):
        image[bl.id_address - region.start] = bl.id
    return bytes(image)
