"""The chip table: one module per family, concatenated in a stable order.

A new part is one more row in its family module (or a new family module listed here).
"""

from __future__ import annotations

from ..model import Chip
from . import f0, f1, f3, f4, f7, g0, g4, h7, l0, l1, l4, mp1, wb

CHIPS: tuple[Chip, ...] = (
    *f0.CHIPS,
    *f1.CHIPS,
    *f3.CHIPS,
    *f4.CHIPS,
    *f7.CHIPS,
    *l0.CHIPS,
    *l1.CHIPS,
    *l4.CHIPS,
    *g0.CHIPS,
    *g4.CHIPS,
    *wb.CHIPS,
    *h7.CHIPS,
    *mp1.CHIPS,
)

__all__ = ["CHIPS"]
