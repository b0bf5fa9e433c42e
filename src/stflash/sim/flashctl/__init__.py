"""Register-level models of the STM32 embedded-flash controllers, one module per design."""

from __future__ import annotations

from ...chips.model import FlashKind
from .base import FlashController, Host, KeyLock, OpTimer, RomOutcome
from .f2f4 import F2F4Controller
from .f7 import F7Controller
from .fpec import FpecController
from .h7 import H7Controller
from .l0l1 import L0L1Controller
from .l4_family import L4FamilyController


def controller_for(host: Host) -> FlashController | None:
    """The controller model for ``host.chip.flash_kind`` (None for parts without internal flash)."""
    kind = host.chip.flash_kind
    if kind is FlashKind.F0_F1_F3:
        return FpecController(host)
    if kind is FlashKind.F2_F4:
        return F2F4Controller(host)
    if kind is FlashKind.F7:
        return F7Controller(host)
    if kind is FlashKind.L0_L1:
        return L0L1Controller(host)
    if kind is FlashKind.L4:
        return L4FamilyController(host, "l4")
    if kind is FlashKind.G0:
        return L4FamilyController(host, "g0")
    if kind is FlashKind.G4:
        return L4FamilyController(host, "g4")
    if kind is FlashKind.WB:
        return L4FamilyController(host, "wb")
    if kind is FlashKind.H7:
        return H7Controller(host)
    return None


__all__ = [
    "F2F4Controller",
    "F7Controller",
    "FlashController",
    "FpecController",
    "H7Controller",
    "Host",
    "KeyLock",
    "L0L1Controller",
    "L4FamilyController",
    "OpTimer",
    "RomOutcome",
    "controller_for",
]
