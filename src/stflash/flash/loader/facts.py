"""Per-family facts the host side of the loader needs besides the flash timing (which the
drivers' ``limits`` table holds): how fast the core runs after reset (to pace a CRC), the watchdog
key register, and which status flags mean what in an error message (their names are the drivers').
"""

from __future__ import annotations

from ...chips.model import Chip, FlashKind
from ..drivers import STATUS_NAMES
from ..drivers.limits import limits_for

MHZ = 1_000_000
DEFAULT_UNIT_SECONDS = 100e-6  # a controller kind without a timing row

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

PROTECTION_FLAGS = ("WRPRTERR", "WRPERR", "RDPERR")  # the sector (or the chip) is protected
NOT_BLANK_FLAGS = ("PGERR", "PROGERR", "NOTZEROERR")  # the target was not erased


def unit_seconds(chip: Chip) -> float:
    """The typical time of one program unit (halfword, word, double word, flash word, L0/L1
    word or half page)."""
    try:
        return limits_for(chip).program_typical
    except KeyError:
        return DEFAULT_UNIT_SECONDS


def reset_clock_hz(chip: Chip) -> int:
    return RESET_CLOCK_HZ.get(chip.family.upper(), DEFAULT_CLOCK_HZ)


def watchdog_key_register(chip: Chip) -> int:
    return IWDG_KR_H7 if chip.flash_kind is FlashKind.H7 else IWDG_KR


def flag_names(chip: Chip, bits: int) -> list[str]:
    """Names of the set bits of ``bits`` (``bit N`` where the controller's table has none)."""
    names = STATUS_NAMES.get(chip.flash_kind, {})
    return [names.get(1 << i, f"bit {i}") for i in range(32) if bits >> i & 1]
