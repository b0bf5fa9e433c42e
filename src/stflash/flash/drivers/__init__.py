"""Flash controller drivers that work through a debug probe, one per controller design.

``driver_for(chip, access)`` picks the driver from ``chip.flash_kind``; every difference inside a
design (bit positions, keys, register offsets, bank register sets) is a table in its module.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...chips.model import Chip, FlashKind
from ...errors import NotSupportedError
from ..debug import DebugAccess
from . import dword, h7, sector
from .base import CHUNK, FlashDriver, OptionsWritten
from .dword import DwordDriver
from .fpec import FpecDriver
from .h7 import H7Driver
from .pecr import PecrDriver
from .sector import SectorDriver

# FLASH_SR bit -> flag name, per controller kind: the names the drivers' messages use
STATUS_NAMES: dict[FlashKind, Mapping[int, str]] = {
    FlashKind.F0_F1_F3: FpecDriver.status_names,
    FlashKind.F2_F4: dict(sector.F2F4_TABLE.names),
    FlashKind.F7: dict(sector.F7_TABLE.names),
    FlashKind.L0_L1: PecrDriver.status_names,
    **{kind: dword.NAMES for kind in dword.TABLES},
    FlashKind.H7: h7.NAMES,
}


def driver_for(chip: Chip, access: DebugAccess, *, psize: int | None = None) -> FlashDriver:
    """The driver for ``chip``'s flash controller. ``psize``: program/erase parallelism in bits
    on controllers that have one (F2/F4/F7 default 32, H7 default 64); ignored elsewhere."""
    kind = chip.flash_kind
    if kind is FlashKind.F0_F1_F3:
        return FpecDriver(chip, access)
    if kind in (FlashKind.F2_F4, FlashKind.F7):
        return SectorDriver(chip, access) if psize is None else SectorDriver(chip, access, psize=psize)
    if kind is FlashKind.L0_L1:
        return PecrDriver(chip, access)
    if kind in (FlashKind.L4, FlashKind.G0, FlashKind.G4, FlashKind.WB):
        return DwordDriver(chip, access)
    if kind is FlashKind.H7:
        return H7Driver(chip, access) if psize is None else H7Driver(chip, access, psize=psize)
    raise NotSupportedError(f"{chip.name} has no internal flash to program")


__all__ = [
    "CHUNK",
    "DwordDriver",
    "FlashDriver",
    "FpecDriver",
    "H7Driver",
    "OptionsWritten",
    "PecrDriver",
    "STATUS_NAMES",
    "SectorDriver",
    "driver_for",
]
