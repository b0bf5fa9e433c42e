"""Per-family numbers the host side of the loader needs: how long a program unit takes (to pace
its polls), how fast the core runs after reset (to pace a CRC), the watchdog key register, and
the names of the status flags an error message shows.

Times are datasheet typical values (docs/timing-model.md lists each with its source); they only
decide when the host looks again, never whether something succeeded.
"""

from __future__ import annotations

from ...chips.model import Chip, FlashKind

MHZ = 1_000_000

# one program unit (what the controller programs at once: halfword, word, double word, flash
# word, L0/L1 word or half page)
UNIT_SECONDS = {
    FlashKind.F0_F1_F3: 52.5e-6,  # DS5319 tprog typ
    FlashKind.F2_F4: 16e-6,  # DS8626 typ
    FlashKind.F7: 16e-6,
    FlashKind.L0_L1: 3.2e-3,  # one high-voltage cycle (UNCONFIRMED in the refs)
    FlashKind.L4: 81.7e-6,  # DS10198
    FlashKind.G0: 85e-6,  # G030 datasheet
    FlashKind.G4: 81.7e-6,
    FlashKind.WB: 81.7e-6,
    FlashKind.H7: 100e-6,  # DS12110, 256-bit word at x64 (x8: 290 us)
}
DEFAULT_UNIT_SECONDS = 100e-6

# core clock after reset (RCC chapters: HSI or MSI); a firmware that started a PLL only makes the
# loader faster than planned
RESET_CLOCK_HZ = {
    "F0": 8 * MHZ, "F1": 8 * MHZ, "F3": 8 * MHZ, "F2": 16 * MHZ, "F4": 16 * MHZ, "F7": 16 * MHZ,
    "L0": 2_097_000, "L1": 2_097_000, "L4": 4 * MHZ, "WB": 4 * MHZ, "G0": 16 * MHZ, "G4": 16 * MHZ,
    "H7": 64 * MHZ,
}
DEFAULT_CLOCK_HZ = 8 * MHZ

# IWDG_KR: the loader writes the refresh key there after every unit, so a watchdog the firmware
# (or the option bytes) started does not reset the chip mid-run (stlink.md 8.1: st-flash kicks it
# at the same addresses before each loader run)
IWDG_KR = 0x4000_3000
IWDG_KR_H7 = 0x5800_4800  # IWDG1

# status flag names by bit (families.md sections 3-12)
_FPEC = {2: "PGERR", 4: "WRPRTERR"}
_F2F4 = {1: "OPERR", 4: "WRPERR", 5: "PGAERR", 6: "PGPERR", 7: "PGSERR", 8: "RDERR"}
_F7 = {**_F2F4, 7: "ERSERR"}
_L0L1 = {8: "WRPERR", 9: "PGAERR", 10: "SIZERR", 11: "OPTVERR", 12: "OPTVERRUSR", 13: "RDERR",
         16: "NOTZEROERR", 17: "FWWERR"}
_L4 = {1: "OPERR", 3: "PROGERR", 4: "WRPERR", 5: "PGAERR", 6: "SIZERR", 7: "PGSERR", 8: "MISERR",
       9: "FASTERR", 14: "RDERR", 15: "OPTVERR"}
_H7 = {17: "WRPERR", 18: "PGSERR", 19: "STRBERR", 21: "INCERR", 22: "OPERR", 23: "RDPERR",
       24: "RDSERR", 25: "SNECCERR", 26: "DBECCERR", 28: "CRCRDERR"}
FLAG_NAMES = {
    FlashKind.F0_F1_F3: _FPEC, FlashKind.F2_F4: _F2F4, FlashKind.F7: _F7, FlashKind.L0_L1: _L0L1,
    FlashKind.L4: _L4, FlashKind.G0: _L4, FlashKind.G4: _L4, FlashKind.WB: _L4, FlashKind.H7: _H7,
}
PROTECTION_FLAGS = ("WRPRTERR", "WRPERR", "RDPERR")  # the sector (or the chip) is protected
NOT_BLANK_FLAGS = ("PGERR", "PROGERR", "NOTZEROERR")  # the target was not erased


def unit_seconds(chip: Chip) -> float:
    return UNIT_SECONDS.get(chip.flash_kind, DEFAULT_UNIT_SECONDS)


def reset_clock_hz(chip: Chip) -> int:
    return RESET_CLOCK_HZ.get(chip.family.upper(), DEFAULT_CLOCK_HZ)


def watchdog_key_register(chip: Chip) -> int:
    return IWDG_KR_H7 if chip.flash_kind is FlashKind.H7 else IWDG_KR


def flag_names(chip: Chip, bits: int) -> list[str]:
    """Names of the set bits of ``bits`` (``bit N`` where the family table has none)."""
    names = FLAG_NAMES.get(chip.flash_kind, {})
    return [names.get(i, f"bit {i}") for i in range(32) if bits >> i & 1]
