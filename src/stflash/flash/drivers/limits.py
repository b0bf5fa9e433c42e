"""How long each flash operation may take at most, per controller kind: the driver's timeouts.

Figures are datasheet *maximum* times (reference notes, families.md section 13.1). Where the
notes mark a figure UNCONFIRMED the value below is a deliberately generous bound and says so.
A driver gives up after ``TIMEOUT_FACTOR`` times the figure plus ``SLACK_S`` of waiting; the
figures also pace the polling (see ``FlashDriver.wait_clear``). Each row also keeps the
*typical* time of one program unit (docs/timing-model.md cites each), which paces the flash
loader's host side: it only decides when the host looks again, never whether anything worked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...chips.erase_times import by_parallelism, row_for
from ...chips.model import Chip, FlashKind

KIB = 1024
MS = 1e-3
US = 1e-6

TIMEOUT_FACTOR = 1.5  # headroom over the datasheet maximum (temperature, ageing, supply)
SLACK_S = 5 * MS  # plus the probe's own latency, so that tiny operations still get a fair chance


@dataclass(frozen=True)
class Limits:
    """Maximum seconds per operation. ``program``: one program unit, by parallelism in bits
    (key 0 = the family has no PSIZE). ``erase``: one erase unit by its size, by parallelism.
    ``mass``: a bank or chip erase. ``option``: one option change without a regression.
    ``program_typical``: one program unit, datasheet typical (the loader's pace)."""

    program: Mapping[int, float]
    erase: Mapping[int, Mapping[int, float]]
    mass: Mapping[int, float]
    option: float
    program_typical: float

    def program_s(self, parallelism: int = 0) -> float:
        return by_parallelism(self.program, parallelism)

    def erase_s(self, size: int, parallelism: int = 0) -> float:
        """Sizes not listed take the next larger listed unit's figure (an upper bound)."""
        larger = [s for s in self.erase if s >= size]
        key = min(larger) if larger else max(self.erase)
        scale = 1.0 if larger else size / key
        return by_parallelism(self.erase[key], parallelism) * scale

    def mass_s(self, parallelism: int = 0) -> float:
        return by_parallelism(self.mass, parallelism)

    def regression_s(self) -> float:
        """An RDP 1 -> 0 change: the option change plus the mass erase it triggers. The
        parallelism of that erase is not documented, so the slowest figure is used."""
        return self.option + max(self.mass.values())


def timeout(seconds: float) -> float:
    return seconds * TIMEOUT_FACTOR + SLACK_S


def _same(value: float) -> dict[int, float]:
    return {0: value}


# F0/F1/F3: DS5319 (F103x8/xB) Table 28: tprog max 70 us, tERASE (page) max 40 ms, tME max 40 ms.
# HD/XL F103, F0 and F3 datasheets give the same ranges (notes: UNCONFIRMED for those, same
# silicon generation). An option change erases the option page (40 ms) and programs up to 8
# halfwords.
FPEC = Limits(
    program=_same(70 * US),
    erase={1 * KIB: _same(40 * MS), 2 * KIB: _same(40 * MS)},
    mass=_same(40 * MS),
    option=40 * MS + 8 * 70 * US,
    program_typical=52.5 * US,  # DS5319 tprog typ
)

# F2/F4: DS8626 (F405/F407) Table 40 maxima: tprog 100 us; 16 K sector x8 800 / x16 600 / x32
# 500 ms; 64 K 2400 / 1400 / 1100 ms; 128 K 4 / 2.6 / 2 s; mass 32 / 22 / 16 s. x64 (with VPP)
# is faster than x32, so its x32 figure bounds it. The option change erases the option sector:
# bounded by a 16 K x8 erase (UNCONFIRMED: no figure in the notes).
_F4_16K = {8: 800 * MS, 16: 600 * MS, 32: 500 * MS, 64: 500 * MS}
_F4_64K = {8: 2400 * MS, 16: 1400 * MS, 32: 1100 * MS, 64: 1100 * MS}
_F4_128K = {8: 4.0, 16: 2.6, 32: 2.0, 64: 2.0}
F2F4 = Limits(
    program={8: 100 * US, 16: 100 * US, 32: 100 * US, 64: 100 * US},
    erase={16 * KIB: _F4_16K, 64 * KIB: _F4_64K, 128 * KIB: _F4_128K},
    mass={8: 32.0, 16: 22.0, 32: 16.0, 64: 16.0},
    option=800 * MS,
    program_typical=16 * US,  # DS8626 typ
)

# F7 (F746/F767 datasheets, x8 maxima, the only ones found): tERASE32KB 800 ms, tERASE128KB
# 2400 ms, tERASE256KB 4000 ms, tME 32 s, tPROG 100 us. The 16 K / 64 K sectors of a dual-bank
# F76x are bounded by the 32 K / 128 K figures.
F7 = Limits(
    program=_same(100 * US),
    erase={32 * KIB: _same(800 * MS), 128 * KIB: _same(2400 * MS), 256 * KIB: _same(4.0)},
    mass=_same(32.0),
    option=800 * MS,
    program_typical=16 * US,  # the F4 figure
)

# L0/L1: one high-voltage cycle per word, half page or page, about 3.2 ms typical / 3.9 ms max
# (UNCONFIRMED). No mass-erase bit; the RDP regression erases the whole array and the data
# EEPROM inside one option write: no figure found, 1 s assumed (UNCONFIRMED).
PECR = Limits(
    program=_same(3.9 * MS),
    erase={128: _same(3.9 * MS), 256: _same(3.9 * MS)},
    mass=_same(1.0),
    option=3.9 * MS,
    program_typical=3.2 * MS,
)

# L4 (DS10198, L476): 64-bit program 90.8 us max, 2 K page 24.5 ms, mass 25 ms (UNCONFIRMED,
# from memory). An option change erases the option page and reprograms every option word.
L4 = Limits(
    program=_same(90.8 * US),
    erase={2 * KIB: _same(24.5 * MS), 4 * KIB: _same(24.5 * MS), 8 * KIB: _same(24.5 * MS)},
    mass=_same(25 * MS),
    option=24.5 * MS + 32 * 90.8 * US,
    program_typical=81.7 * US,  # DS10198
)
# G030/G031 datasheet: 64-bit program 125 us max, 2 K page 40 ms max; mass 40.1 ms (UNCONFIRMED).
G0 = Limits(
    program=_same(125 * US),
    erase={2 * KIB: _same(40 * MS)},
    mass=_same(40.1 * MS),
    option=40 * MS + 32 * 125 * US,
    program_typical=85 * US,  # G030 datasheet
)
# G4 and WB: assumed L4-class (about 82 / 91 us, 22 / 25 ms; UNCONFIRMED); WB pages are 4 K.
G4 = L4
WB = Limits(
    program=_same(91 * US),
    erase={4 * KIB: _same(25 * MS)},
    mass=_same(25 * MS),
    option=25 * MS + 32 * 91 * US,
    program_typical=81.7 * US,
)

# H742/H743 (DS12110 Table 53): one 266-bit flash word x8 580 / x16 360 / x32 260 / x64 200 us;
# 128 K sector x8 4 / x16 3.6 / x32 2.2 / x64 2 s. Bank erase: no figure found, bounded by
# eight sectors (UNCONFIRMED). Option change: about 300 ms observed, 1 s allowed (UNCONFIRMED).
_H7_SECTOR = {8: 4.0, 16: 3.6, 32: 2.2, 64: 2.0}
H7 = Limits(
    program={8: 580 * US, 16: 360 * US, 32: 260 * US, 64: 200 * US},
    erase={128 * KIB: _H7_SECTOR},
    mass={p: 8 * t for p, t in _H7_SECTOR.items()},
    option=1.0,
    program_typical=100 * US,  # DS12110, a 256-bit word at x64 (x8: 290 us)
)
# H7A3/H7B3: no figures found (UNCONFIRMED); the H74x x8 figures bound them: a 8 K sector by
# a whole 128 K sector, a bank by the H74x bank.
H7A3 = Limits(
    program=_same(580 * US),
    erase={8 * KIB: _same(4.0)},
    mass=_same(32.0),
    option=1.0,
    program_typical=100 * US,  # the H74x figure (UNCONFIRMED)
)

_BY_KIND: dict[FlashKind, Limits] = {
    FlashKind.F0_F1_F3: FPEC,
    FlashKind.F2_F4: F2F4,
    FlashKind.F7: F7,
    FlashKind.L0_L1: PECR,
    FlashKind.L4: L4,
    FlashKind.G0: G0,
    FlashKind.G4: G4,
    FlashKind.WB: WB,
    FlashKind.H7: H7,
}


def limits_for(chip: Chip) -> Limits:
    """The table of ``chip``'s controller."""
    return row_for(chip, _BY_KIND, H7A3)
