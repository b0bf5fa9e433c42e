"""Exceptions raised inside the simulated chip.

They model hardware answers, not stflash errors: a link simulator turns a ``BusFault`` into what
its wire protocol says (an ST-LINK fault status, a bootloader NACK, a DFU error state).
"""

from __future__ import annotations


class SimError(Exception):
    """Base of the simulator's own exceptions."""


class BusFault(SimError):
    """The access was answered with a bus error (HardFault on a core, FAULT on a debug access port)."""

    def __init__(self, address: int, reason: str) -> None:
        super().__init__(f"bus fault at {address:#010x}: {reason}")
        self.address = address
        self.reason = reason


class SimStateError(SimError):
    """A saved bench state does not fit the chip it is loaded into."""


class PowerLost(SimError):
    """The target's supply failed during a flash operation (an injected fault): the flash is left
    part-done and the board is off until powered again."""
