"""What the flash drivers need from a debug probe: memory on one access port, and the core.

The ST-LINK link (``stflash.links.stlink``) provides it; tests provide it over a simulated chip.
Drivers never import a link: they get one of these, so the same driver serves any probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Core register numbers as DCRSR.REGSEL wants them (ARMv7-M/ARMv6-M ARM, C1.6.3)
R0, R1, R2, R3 = 0, 1, 2, 3
SP, LR, PC, XPSR, MSP, PSP = 13, 14, 15, 16, 17, 18


class DebugAccess(Protocol):
    """Memory through the MEM-AP of the selected core, that core's debug control, and the host's
    clock (on the virtual bench a wait advances the bench's clock; nothing sleeps for real)."""

    def read32(self, address: int) -> int: ...

    def write32(self, address: int, value: int) -> None: ...

    def write16(self, address: int, value: int) -> None:
        """One 16-bit bus write (FPEC half-word programming needs exactly this width)."""
        ...

    def read_block(self, address: int, length: int) -> bytes:
        """Any address and length; the probe splits and aligns as its firmware requires."""
        ...

    def write_block(self, address: int, data: bytes) -> None:
        """Any address and length, written with 32-bit accesses where aligned (8-bit at the edges)."""
        ...

    def halt(self) -> None: ...

    def run(self, *, mask_interrupts: bool = False) -> None:
        """Resume the halted core (C_MASKINTS keeps a loader free of the firmware's interrupts)."""
        ...

    def is_halted(self) -> bool: ...

    def read_core_register(self, regsel: int) -> int: ...

    def write_core_register(self, regsel: int, value: int) -> None: ...

    def reset_and_halt(self) -> None:
        """System reset with the reset vector caught: the core stops before its first instruction."""
        ...

    def wait(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class ProgramSetup:
    """How one programming run streams data into the flash once the driver has unlocked the
    controller and set its program mode: what a loader on the target (or the register path)
    needs to know to write ``unit`` bytes at a time and check each unit.

    ``sr`` is the status register polled after each unit; the unit is done when ``sr & busy_mask``
    is 0; a nonzero ``sr & error_mask`` stops programming. ``width`` is the bus width of each store
    (2 on F0/F1/F3, 4 elsewhere); ``unit`` the bytes written before polling (2, 4, 8, 16, 32, or a
    half-page of 64/128 on L0/L1). ``erased`` is the erased byte value (0x00 on L0/L1)."""

    sr: int
    busy_mask: int
    error_mask: int
    width: int
    unit: int
    erased: int = 0xFF


@dataclass(frozen=True)
class FlashStep:
    """One thing a driver does to its flash controller, in a form both the host (through the
    probe, one access per step) and the flash loader (on the target, no round trip) can run:
    store ``value`` at ``address``; or, with ``wait``, read the word at ``address`` until
    ``word & value`` is 0, then stop with an error if ``word & errors`` is not.

    A wait says what it waits for, for messages (``doing`` "erasing", ``subject`` "sector 5 at
    0x08020000", ``at`` the flash address or None) and for pacing and timeouts (``typical_s``,
    ``max_s``: datasheet typical and maximum seconds)."""

    address: int
    value: int
    wait: bool = False
    errors: int = 0
    doing: str = ""
    subject: str = ""
    at: int | None = None
    typical_s: float = 0.0
    max_s: float = 0.0


def store(address: int, value: int) -> FlashStep:
    return FlashStep(address, value & 0xFFFF_FFFF)


def wait(address: int, busy: int, errors: int = 0, *, doing: str = "", subject: str = "", at: int | None = None,
         typical_s: float = 0.0, max_s: float = 0.0) -> FlashStep:
    return FlashStep(address, busy, True, errors, doing, subject, at, typical_s, max_s)
