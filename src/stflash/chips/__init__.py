"""The chip database: what stflash knows about each STM32 part, and how to look parts up.

Importing this package is cheap: the table itself (``stflash.chips.data``) is loaded on the first
lookup.
"""

from __future__ import annotations

from .boards import BOARDS, board_part
from .lookup import all_chips, chips_for_dev_id, find_chip, identify, resolve_part
from .model import (
    Bank,
    Bootloader,
    Chip,
    FlashKind,
    ForbiddenCombination,
    Geometry,
    Link,
    OptionField,
    Region,
    Sector,
    SectorRun,
)

__all__ = [
    "BOARDS",
    "Bank",
    "Bootloader",
    "Chip",
    "FlashKind",
    "ForbiddenCombination",
    "Geometry",
    "Link",
    "OptionField",
    "Region",
    "Sector",
    "SectorRun",
    "all_chips",
    "board_part",
    "chips_for_dev_id",
    "find_chip",
    "identify",
    "resolve_part",
]
