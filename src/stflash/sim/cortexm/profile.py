"""What differs between the Cortex-M cores STM32 parts carry, and the clock each family's core
runs at after reset.

Comparator counts are what the STM32 implementations report (FP_CTRL.NUM_CODE/NUM_LIT,
DWT_CTRL.NUMCOMP); the core clock is the reset-default oscillator from each family's reference
manual (RCC chapter). Both are listed, with sources, in ``docs/timing-model.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from unicorn import arm_const

from ...chips.model import Chip
from ..identity import CPUID

MHZ = 1_000_000


@dataclass(frozen=True)
class CoreProfile:
    name: str  # "cortex-m4" ...
    arch: str  # "v6m" (M0/M0+), "v7m" (M3/M4/M7), "v8m" (M33)
    cpuid: int
    fpu: bool  # FPSCR and S0-S31 exist (DCRSR REGSEL 0x21, 0x40-0x5F)
    fpb_code: int  # FPB instruction-address comparators
    fpb_literal: int  # FPB literal comparators (remap only, FPB version 1)
    fpb_rev: int  # FP_CTRL.REV: 0 = FPB version 1 (M0/M3/M4), 1 = version 2 (M7, M33)
    dwt_comparators: int
    has_cyccnt: bool  # DWT_CYCCNT (not on ARMv6-M)
    unicorn_model: int

    @property
    def v6m(self) -> bool:
        return self.arch == "v6m"

    @property
    def vectreset(self) -> bool:
        """AIRCR.VECTRESET (a core-only reset for the debugger) exists on ARMv7-M only; ARMv6-M and
        ARMv8-M reserve the bit. Cortex-M7 is ARMv7-M and keeps it (no source says otherwise)."""
        return self.arch == "v7m"

    def fp_ctrl(self) -> int:
        """FP_CTRL without the ENABLE bit: NUM_CODE[6:4] (+[14:12]), NUM_LIT[11:8], REV[31:28]."""
        code = self.fpb_code
        return (self.fpb_rev << 28) | ((code >> 4) << 12) | (self.fpb_literal << 8) | ((code & 0xF) << 4)

    def dwt_ctrl(self) -> int:
        """DWT_CTRL read-only part: NUMCOMP[31:28], NOCYCCNT (bit 25) where CYCCNT is missing."""
        return (self.dwt_comparators << 28) | (0 if self.has_cyccnt else 1 << 25)


_PROFILES = {
    p.name: p
    for p in (
        CoreProfile("cortex-m0", "v6m", CPUID["cortex-m0"], False, 4, 0, 0, 2, False,
                    arm_const.UC_CPU_ARM_CORTEX_M0),
        CoreProfile("cortex-m0+", "v6m", CPUID["cortex-m0+"], False, 4, 0, 0, 2, False,
                    arm_const.UC_CPU_ARM_CORTEX_M0),
        CoreProfile("cortex-m3", "v7m", CPUID["cortex-m3"], False, 6, 2, 0, 4, True,
                    arm_const.UC_CPU_ARM_CORTEX_M3),
        CoreProfile("cortex-m4", "v7m", CPUID["cortex-m4"], True, 6, 2, 0, 4, True,
                    arm_const.UC_CPU_ARM_CORTEX_M4),
        CoreProfile("cortex-m7", "v7m", CPUID["cortex-m7"], True, 8, 0, 1, 4, True,
                    arm_const.UC_CPU_ARM_CORTEX_M7),
        CoreProfile("cortex-m33", "v8m", CPUID["cortex-m33"], True, 8, 0, 1, 4, True,
                    arm_const.UC_CPU_ARM_CORTEX_M33),
    )
}


def profile_for(core: str) -> CoreProfile | None:
    """The profile of a core named in the chip table; None for cores this model does not run
    (the Cortex-A7 of an MP1)."""
    return _PROFILES.get(core)


# Core clock right after reset (no firmware has touched RCC yet), per family.
_RESET_CLOCK_HZ = {
    "F0": 8 * MHZ,  # HSI 8 MHz
    "F1": 8 * MHZ,  # HSI 8 MHz
    "F2": 16 * MHZ,  # HSI 16 MHz
    "F3": 8 * MHZ,  # HSI 8 MHz
    "F4": 16 * MHZ,  # HSI 16 MHz
    "F7": 16 * MHZ,  # HSI 16 MHz
    "L0": 2_097_000,  # MSI range 5, 2.097 MHz
    "L1": 2_097_000,  # MSI range 5, 2.097 MHz
    "L4": 4 * MHZ,  # MSI range 6, 4 MHz
    "WB": 4 * MHZ,  # MSI 4 MHz
    "G0": 16 * MHZ,  # HSI16, HSIDIV = 1
    "G4": 16 * MHZ,  # HSI16
    "H7": 64 * MHZ,  # HSI 64 MHz (both cores of a dual-core part)
    "MP1": 64 * MHZ,  # HSI 64 MHz (the MCU subsystem)
}
DEFAULT_CLOCK_HZ = 16 * MHZ


def reset_clock_hz(chip: Chip) -> int:
    return _RESET_CLOCK_HZ.get(chip.family.upper(), DEFAULT_CLOCK_HZ)
