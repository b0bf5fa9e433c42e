"""Chip-side timing of flash operations, per family, from datasheet typical values.

Every figure here is listed with its source in ``docs/timing-model.md``. Times are integer
nanoseconds. "Parallelism" is the program/erase width in bits selected by PSIZE on F2/F4/F7/H7
(8, 16, 32 or 64); families without PSIZE use the key 0.

Link costs (USB frames, SWD transfers, UART bits) do not belong here: each link simulator charges
them on the same virtual clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..chips.model import Chip, FlashKind
from .clock import MS, US, S, zero_costs

KIB = 1024


@dataclass(frozen=True)
class FlashTiming:
    """Typical durations of one flash operation for one family.

    ``program``: one program operation (one halfword, word, double word or flash word,
    whichever the family programs at once) per parallelism.
    ``erase``: one sector/page erase, by erase-unit size in bytes, per parallelism.
    ``mass``: one mass erase or bank erase, per parallelism.
    ``option``: one option-byte change (F0/F1/F3 and L4-class: the option-page erase; the
    controller adds the programming of the option words).
    """

    name: str
    program: Mapping[int, int]
    erase: Mapping[int, Mapping[int, int]]
    mass: Mapping[int, int]
    option: int

    def program_ns(self, parallelism: int = 0) -> int:
        return _pick(self.program, parallelism)

    def erase_ns(self, size: int, parallelism: int = 0) -> int:
        """Erase time of one ``size``-byte unit; sizes not in the table scale linearly from the
        nearest listed size (documented modelling choice)."""
        if size in self.erase:
            return _pick(self.erase[size], parallelism)
        nearest = min(self.erase, key=lambda s: (abs(s - size), s))
        return _pick(self.erase[nearest], parallelism) * size // nearest

    def mass_erase_ns(self, parallelism: int = 0) -> int:
        return _pick(self.mass, parallelism)


def _pick(table: Mapping[int, int], parallelism: int) -> int:
    if parallelism in table:
        return table[parallelism]
    if 0 in table:
        return table[0]
    # nearest listed parallelism, the narrower one on a tie (the slower, safer figure)
    key = min(table, key=lambda p: (abs(p - parallelism), p))
    return table[key]


def _same(value: int) -> dict[int, int]:
    return {0: value}


def _one_figure(name: str, program: int, unit_sizes: tuple[int, ...], erase: int, mass: int,
                option: int) -> FlashTiming:
    """A family without PSIZE whose erase units all take the same time."""
    return FlashTiming(name, program=_same(program), erase={size: _same(erase) for size in unit_sizes},
                       mass=_same(mass), option=option)


# -- F0 / F1 / F3 (FPEC, halfword programming) ------------------------------------------------
# DS5319 (F103x8/xB) Table 28: tprog 40/52.5/70 us (min/typ/max); tERASE and tME 20..40 ms with no
# typical value given: the model uses the middle of the range, 30 ms, for page, mass and option-page
# erase. F0 datasheets: tprog 53.5 us typ, erases as F1. F3: assumed equal to F0.
F1 = _one_figure("F1", 52_500, (1 * KIB, 2 * KIB), 30 * MS, 30 * MS, 30 * MS)
F0 = _one_figure("F0", 53_500, (1 * KIB, 2 * KIB), 30 * MS, 30 * MS, 30 * MS)
F3 = _one_figure("F3", 53_500, (2 * KIB,), 30 * MS, 30 * MS, 30 * MS)

# -- F2 / F4 (DS8626 Table 40 and the F4 datasheets) -------------------------------------------
_F4_PROGRAM = {8: 16 * US, 16: 16 * US, 32: 16 * US, 64: 16 * US}
_F4_16K = {8: 400 * MS, 16: 300 * MS, 32: 250 * MS, 64: 230 * MS}
_F4_64K = {8: 1200 * MS, 16: 700 * MS, 32: 550 * MS, 64: 490 * MS}
_F4_128K = {8: 2000 * MS, 16: 1300 * MS, 32: 1000 * MS, 64: 875 * MS}
_F4_MASS = {8: 16 * S, 16: 11 * S, 32: 8 * S, 64: 6_900 * MS}
F4 = FlashTiming(
    "F4",
    program=_F4_PROGRAM,
    erase={16 * KIB: _F4_16K, 64 * KIB: _F4_64K, 128 * KIB: _F4_128K},
    mass=_F4_MASS,
    option=250 * MS,
)
F2 = replace(F4, name="F2")

# -- F7: the F7 maximum figures equal the F4 x8 maxima one row up (32 K = F4 16 K row,
# 128 K = F4 64 K row, 256 K = F4 128 K row), so the F4 typical rows are reused the same way.
F7 = FlashTiming(
    "F7",
    program=_F4_PROGRAM,
    erase={
        16 * KIB: _F4_16K,
        32 * KIB: _F4_16K,
        64 * KIB: _F4_64K,
        128 * KIB: _F4_64K,
        256 * KIB: _F4_128K,
    },
    mass=_F4_MASS,
    option=250 * MS,
)

# -- L0 / L1 (one high-voltage cycle per word, half-page, page or option word) -------------------
L0 = _one_figure("L0", 3_200 * US, (128,), 3_200 * US, 3_200 * US, 3_200 * US)
L1 = _one_figure("L1", 3_200 * US, (256,), 3_200 * US, 3_200 * US, 3_200 * US)

# -- L4-class (64-bit programming, pages; the option change is an option-page erase) ---------------
L4 = _one_figure("L4", 81_700, (2 * KIB, 4 * KIB, 8 * KIB), 22 * MS, 22_100 * US, 22 * MS)
G0 = _one_figure("G0", 85 * US, (2 * KIB,), 22 * MS, 22_100 * US, 22 * MS)
G4 = _one_figure("G4", 81_700, (2 * KIB, 4 * KIB), 22 * MS, 22_100 * US, 22 * MS)
WB = _one_figure("WB", 81_700, (4 * KIB,), 22 * MS, 22_100 * US, 22 * MS)

# -- H7 (DS12110 Table "Flash memory programming"; per 256-bit flash word) ----------------------
_H7_SECTOR = {8: 2 * S, 16: 1_800 * MS, 32: 1_100 * MS, 64: 1 * S}
H7 = FlashTiming(
    "H7",
    program={8: 290 * US, 16: 180 * US, 32: 130 * US, 64: 100 * US},
    erase={128 * KIB: _H7_SECTOR},
    # bank erase not found in the sources: eight 128 K sectors' worth
    mass={p: 8 * t for p, t in _H7_SECTOR.items()},
    option=300 * MS,
)
# H7A3/H7B3/H7B0: no figures found; the H74x x64 values, the sector time scaled by size.
H7A3 = _one_figure("H7A3", 100 * US, (8 * KIB,), 62_500 * US, 8 * S, 300 * MS)

TIMINGS: dict[str, FlashTiming] = {
    t.name: t for t in (F0, F1, F2, F3, F4, F7, L0, L1, L4, G0, G4, WB, H7, H7A3)
}

_BY_KIND: dict[FlashKind, FlashTiming] = {
    FlashKind.F0_F1_F3: F1,
    FlashKind.F2_F4: F4,
    FlashKind.F7: F7,
    FlashKind.L0_L1: L0,
    FlashKind.L4: L4,
    FlashKind.G0: G0,
    FlashKind.G4: G4,
    FlashKind.WB: WB,
    FlashKind.H7: H7,
}


# every operation instant (with STFLASH_SIM_ZERO_COSTS=1)
ZERO = FlashTiming("zero", program=_same(0), erase={1: _same(0)}, mass=_same(0), option=0)


def timing_for(chip: Chip) -> FlashTiming:
    """The timing table for ``chip``: by family name, else by controller kind."""
    if zero_costs():
        return ZERO
    if chip.flash_kind is FlashKind.H7 and chip.write_unit == 16:
        return H7A3
    found = TIMINGS.get(chip.family.upper())
    if found is not None:
        return found
    return _BY_KIND.get(chip.flash_kind, F4)
