"""Typical erase durations per controller design, for choosing between sector and bank/mass erases.

These are datasheet *typical* figures (the planner compares likely durations; the drivers' timeouts
use the maxima in ``flash.drivers.limits``). Sources are the project's reference notes
(families.md section 13.1) and docs/timing-model.md; UNCONFIRMED marks a figure no primary text
was found for. ``bank`` is one bank erased alone, ``mass`` the whole flash in one operation;
None means the silicon has no such erase (or no link can start it), so the planner never picks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from .model import Chip, FlashKind

T = TypeVar("T")

KIB = 1024
MS = 1e-3


@dataclass(frozen=True)
class EraseTimes:
    """Seconds per erase. ``sector``: erase-unit size -> parallelism in bits -> seconds (key 0 =
    no PSIZE). ``parallelism``: the width links use unless told otherwise (F2/F4/F7 x32 at
    2.7-3.6 V, H74x x64; 0 where the controller has no PSIZE)."""

    sector: Mapping[int, Mapping[int, float]]
    bank: Mapping[int, float] | None
    mass: Mapping[int, float] | None
    parallelism: int = 0

    def sector_s(self, size: int, parallelism: int | None = None) -> float:
        """A size not listed scales linearly from the nearest listed one."""
        p = self.parallelism if parallelism is None else parallelism
        if size in self.sector:
            return by_parallelism(self.sector[size], p)
        nearest = min(self.sector, key=lambda s: (abs(s - size), s))
        return by_parallelism(self.sector[nearest], p) * size / nearest

    def bank_s(self, parallelism: int | None = None) -> float | None:
        p = self.parallelism if parallelism is None else parallelism
        return None if self.bank is None else by_parallelism(self.bank, p)

    def mass_s(self, parallelism: int | None = None) -> float | None:
        p = self.parallelism if parallelism is None else parallelism
        return None if self.mass is None else by_parallelism(self.mass, p)


def by_parallelism(table: Mapping[int, float], parallelism: int) -> float:
    """A figure by program width (key 0: the controller has no PSIZE). Shared with the maxima
    in ``flash.drivers.limits``, so the typical and the worst-case tables read alike."""
    if parallelism in table:
        return table[parallelism]
    if 0 in table:
        return table[0]
    return max(table.values())  # an unknown width: the slowest figure


def _same(seconds: float) -> dict[int, float]:
    return {0: seconds}


# F0/F1/F3: DS5319 (F103x8/xB) Table 28 gives page erase and mass erase as 20-40 ms with no
# typical value: the middle, 30 ms, is used. F0/F3 datasheets: about 30 ms (UNCONFIRMED).
FPEC = EraseTimes(
    sector={1 * KIB: _same(30 * MS), 2 * KIB: _same(30 * MS)},
    bank=_same(30 * MS),  # MER of one register set (F1 XL bank)
    mass=_same(30 * MS),
)

# F2/F4: DS8626 (F405/F407) Table 40 typical values, x8 / x16 / x32 / x64 (x64 needs VPP;
# UNCONFIRMED): 16 K 400/300/250/230 ms, 64 K 1200/700/550/490 ms, 128 K 2.0/1.3/1.0/0.875 s,
# mass erase 16/11/8/6.9 s. The notes apply the F405 figures to every F2/F4; a bank erase of a
# dual-bank F42x (MER or MER1 alone) is taken as the mass figure (UNCONFIRMED). The F411
# datasheet's mass erase maximum (16 s at x8, half of DS8626's 32 s) suggests 512 K parts erase
# in about half that time; the notes do not confirm a typical value, so it is not used here.
_F4_16K = {8: 400 * MS, 16: 300 * MS, 32: 250 * MS, 64: 230 * MS}
_F4_64K = {8: 1200 * MS, 16: 700 * MS, 32: 550 * MS, 64: 490 * MS}
_F4_128K = {8: 2.0, 16: 1.3, 32: 1.0, 64: 0.875}
_F4_MASS = {8: 16.0, 16: 11.0, 32: 8.0, 64: 6.9}
F2F4 = EraseTimes(
    sector={16 * KIB: _F4_16K, 64 * KIB: _F4_64K, 128 * KIB: _F4_128K},
    bank=_F4_MASS,
    mass=_F4_MASS,
    parallelism=32,
)

# F7 (F746/F767 datasheets): only x8 maxima were found (32 K 800 ms, 128 K 2.4 s, 256 K 4 s,
# mass 32 s), equal to the F4 maxima one sector size down, so the F4 typical rows are used the
# same way (UNCONFIRMED). Dual-bank F76x sectors (16 K / 64 K) take the F4 rows of their size.
F7 = EraseTimes(
    sector={16 * KIB: _F4_16K, 32 * KIB: _F4_16K, 64 * KIB: _F4_64K, 128 * KIB: _F4_64K, 256 * KIB: _F4_128K},
    bank=_F4_MASS,
    mass=_F4_MASS,
    parallelism=32,
)

# L0/L1: one high-voltage cycle per page, about 3.2 ms (UNCONFIRMED). There is no mass-erase bit
# (RM0367/RM0038): a "mass" erase is every page in turn, never cheaper.
PECR = EraseTimes(sector={128: _same(3.2 * MS), 256: _same(3.2 * MS)}, bank=None, mass=None)

# L4 (DS10198, L476): page 22.0 ms, mass erase (MER1 and/or MER2) 22.1 ms typical (UNCONFIRMED).
# G0 (G030 datasheet): page 22 ms; mass 22.1 ms (UNCONFIRMED). G4: assumed L4-class.
L4 = EraseTimes(
    sector={2 * KIB: _same(22 * MS), 4 * KIB: _same(22 * MS), 8 * KIB: _same(22 * MS)},
    bank=_same(22.1 * MS),
    mass=_same(22.1 * MS),
)
G0 = EraseTimes(sector={2 * KIB: _same(22 * MS)}, bank=_same(22.1 * MS), mass=_same(22.1 * MS))

# WB: 4 K pages about 22 ms (assumed L4-class, UNCONFIRMED). The top of the flash belongs to the
# CPU2 stack, which MER may not touch from the debugger, and the drivers erase "mass" page by
# page: never cheaper.
WB = EraseTimes(sector={4 * KIB: _same(22 * MS)}, bank=None, mass=None)

# H742/H743 (DS12110 "Flash memory programming"): 128 K sector x8 2 s, x16 1.8 s, x32 1.1 s,
# x64 1 s typical. Bank erase: no figure found; eight sectors' time (UNCONFIRMED, as the
# project's timing model). The two banks erase in parallel (RM0433: each bank has its own
# controller), so a mass erase takes one bank's time.
_H7_SECTOR = {8: 2.0, 16: 1.8, 32: 1.1, 64: 1.0}
_H7_BANK = {p: 8 * t for p, t in _H7_SECTOR.items()}
H7 = EraseTimes(sector={128 * KIB: _H7_SECTOR}, bank=_H7_BANK, mass=_H7_BANK, parallelism=64)

# H7A3/H7B3/H7B0: no figures found (UNCONFIRMED): the H743 x64 sector time scaled to 8 K, and
# the H743 x64 bank time.
H7A3 = EraseTimes(sector={8 * KIB: _same(62.5 * MS)}, bank=_same(8.0), mass=_same(8.0))

NO_FLASH = EraseTimes(sector={}, bank=None, mass=None)

_BY_KIND: dict[FlashKind, EraseTimes] = {
    FlashKind.F0_F1_F3: FPEC,
    FlashKind.F2_F4: F2F4,
    FlashKind.F7: F7,
    FlashKind.L0_L1: PECR,
    FlashKind.L4: L4,
    FlashKind.G0: G0,
    FlashKind.G4: L4,
    FlashKind.WB: WB,
    FlashKind.H7: H7,
    FlashKind.NONE: NO_FLASH,
}


def row_for(chip: Chip, by_kind: Mapping[FlashKind, T], h7_128bit: T) -> T:
    """``chip``'s row of a table by controller kind: the H7 parts with 128-bit flash words
    (H7A3/H7B3/H7B0) have their own row beside the 256-bit H74x/H75x one."""
    if chip.flash_kind is FlashKind.H7 and chip.write_unit == 16:
        return h7_128bit
    return by_kind[chip.flash_kind]


def erase_times(chip: Chip) -> EraseTimes:
    """The typical erase times of ``chip``'s flash."""
    return row_for(chip, _BY_KIND, H7A3)
