"""The Cortex-M cores of the simulated STM32: their debug registers (SCS, FPB, DWT) as a probe
reaches them, and instruction execution on unicorn so that code the probe downloads (flash
algorithms, loaders) and the firmware in flash really run against the simulated peripherals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core import MAX_WORK_CYCLES, RUN_AHEAD_NS, CortexM
from .profile import CoreProfile, profile_for, reset_clock_hz

if TYPE_CHECKING:
    from ..chip import SimChip

__all__ = ["MAX_WORK_CYCLES", "RUN_AHEAD_NS", "CoreProfile", "CortexM", "make_cores", "profile_for",
           "reset_clock_hz"]


def make_cores(sim: SimChip) -> list[CortexM | None]:
    """One model per core of the chip row, in access-port order; None for a core that is not a
    Cortex-M (the Cortex-A7s of an MP1)."""
    out: list[CortexM | None] = []
    for index, name in enumerate(sim.chip.cores):
        profile = profile_for(name)
        out.append(CortexM(sim, index, profile) if profile is not None else None)
    return out
