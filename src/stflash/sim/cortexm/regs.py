"""The core's registers as the debugger sees them through DCRSR/DCRDR, and their transfer to and
from the instruction-set emulator.

Between runs the registers live in a plain dict (what the bench saves); a run loads them into
unicorn and reads them back when it stops.
"""

from __future__ import annotations

from typing import Any

from unicorn import arm_const as a

from .profile import CoreProfile

MASK32 = 0xFFFF_FFFF
XPSR_T = 1 << 24
IPSR_MASK = 0x1FF
CONTROL_NPRIV, CONTROL_SPSEL, CONTROL_FPCA = 1, 2, 4

# unicorn 2.1 implements UC_ARM_REG_CONTROL but its Python constants skip it (it sits between
# UC_ARM_REG_PSP = 116 and UC_ARM_REG_IAPSR = 118 in unicorn/arm.h)
UC_ARM_REG_CONTROL = getattr(a, "UC_ARM_REG_CONTROL", 117)

GPR = tuple(f"r{i}" for i in range(13))
SREGS = tuple(f"s{i}" for i in range(32))
_UC_GPR = {**{f"r{i}": getattr(a, f"UC_ARM_REG_R{i}") for i in range(13)}, "lr": a.UC_ARM_REG_LR}
_UC_FP = {f"s{i}": getattr(a, f"UC_ARM_REG_S{i}") for i in range(32)}

# DCRSR.REGSEL values (ARMv7-M ARM C1.6.3; ARMv6-M keeps 0-18 and 0x14)
SEL_SP, SEL_PC, SEL_XPSR, SEL_MSP, SEL_PSP, SEL_SPECIAL, SEL_FPSCR = 13, 15, 16, 17, 18, 0x14, 0x21
SEL_S0 = 0x40


def initial_regs(profile: CoreProfile) -> dict[str, int]:
    regs = {name: 0 for name in GPR}
    regs.update(lr=MASK32, pc=0, xpsr=XPSR_T, msp=0, psp=0, control=0, faultmask=0, basepri=0, primask=0)
    if profile.fpu:
        regs["fpscr"] = 0
        regs.update({name: 0 for name in SREGS})
    return regs


def uses_psp(regs: dict[str, int]) -> bool:
    return not regs["xpsr"] & IPSR_MASK and bool(regs["control"] & CONTROL_SPSEL)


def sp_name(regs: dict[str, int]) -> str:
    return "psp" if uses_psp(regs) else "msp"


def read_sel(regs: dict[str, int], sel: int, profile: CoreProfile) -> int | None:
    """The value REGSEL ``sel`` reads, or None when the core has no such register."""
    if sel < 13:
        return regs[f"r{sel}"]
    if sel == SEL_SP:
        return regs[sp_name(regs)]
    if sel == 14:
        return regs["lr"]
    if sel == SEL_PC:
        return regs["pc"]
    if sel == SEL_XPSR:
        return regs["xpsr"]
    if sel in (SEL_MSP, SEL_PSP):
        return regs["msp" if sel == SEL_MSP else "psp"]
    if sel == SEL_SPECIAL:
        if profile.v6m:
            return ((regs["control"] & 3) << 24) | (regs["primask"] & 1)
        return ((regs["control"] & 7) << 24) | ((regs["faultmask"] & 1) << 16) | (
            (regs["basepri"] & 0xFF) << 8) | (regs["primask"] & 1)
    if profile.fpu and sel == SEL_FPSCR:
        return regs["fpscr"]
    if profile.fpu and SEL_S0 <= sel < SEL_S0 + 32:
        return regs[f"s{sel - SEL_S0}"]
    return None


def write_sel(regs: dict[str, int], sel: int, value: int, profile: CoreProfile) -> bool:
    """Write REGSEL ``sel``; False when the core has no such register (the write is ignored)."""
    value &= MASK32
    if sel < 13:
        regs[f"r{sel}"] = value
    elif sel == SEL_SP:
        regs[sp_name(regs)] = value & ~3
    elif sel == 14:
        regs["lr"] = value
    elif sel == SEL_PC:
        regs["pc"] = value & ~1  # DebugReturnAddress: bit 0 is ignored, EPSR.T says Thumb
    elif sel == SEL_XPSR:
        regs["xpsr"] = value & (0xF100_003F if profile.v6m else 0xFF0F_FC00 | IPSR_MASK)
    elif sel in (SEL_MSP, SEL_PSP):
        regs["msp" if sel == SEL_MSP else "psp"] = value & ~3
    elif sel == SEL_SPECIAL:
        regs["primask"] = value & 1
        if profile.v6m:
            regs["control"] = (value >> 24) & 3
        else:
            regs["basepri"] = (value >> 8) & 0xF0  # STM32 implement 4 priority bits
            regs["faultmask"] = (value >> 16) & 1
            regs["control"] = (value >> 24) & (7 if profile.fpu else 3)
    elif profile.fpu and sel == SEL_FPSCR:
        regs["fpscr"] = value & 0xF7C0_009F
    elif profile.fpu and SEL_S0 <= sel < SEL_S0 + 32:
        regs[f"s{sel - SEL_S0}"] = value
    else:
        return False
    return True


# -- transfer to/from unicorn ------------------------------------------------------------------
def push(uc: Any, regs: dict[str, int], profile: CoreProfile, pristine: Any) -> None:
    """Load ``regs`` into a unicorn core. Starts from a pristine privileged Thread-mode context
    so that the banked stack pointers and CONTROL land where the architecture puts them."""
    uc.context_restore(pristine)
    xpsr = regs["xpsr"]
    uc.reg_write(a.UC_ARM_REG_XPSR, xpsr & ~IPSR_MASK)  # Thread mode, privileged: all writable
    uc.reg_write(a.UC_ARM_REG_PRIMASK, regs["primask"])
    if not profile.v6m:
        uc.reg_write(a.UC_ARM_REG_BASEPRI, regs["basepri"])
        uc.reg_write(a.UC_ARM_REG_FAULTMASK, regs["faultmask"])
    uc.reg_write(a.UC_ARM_REG_MSP, regs["msp"])
    uc.reg_write(a.UC_ARM_REG_PSP, regs["psp"])
    control = regs["control"] & ~(CONTROL_SPSEL if xpsr & IPSR_MASK else 0)
    uc.reg_write(UC_ARM_REG_CONTROL, control)
    uc.reg_write(a.UC_ARM_REG_XPSR, xpsr)
    for name, reg in _UC_GPR.items():
        uc.reg_write(reg, regs[name])
    if profile.fpu:
        uc.reg_write(a.UC_ARM_REG_FPSCR, regs["fpscr"])
        for name, reg in _UC_FP.items():
            uc.reg_write(reg, regs[name])
    uc.reg_write(a.UC_ARM_REG_PC, regs["pc"] | (1 if xpsr & XPSR_T else 0))


def pull(uc: Any, regs: dict[str, int], profile: CoreProfile) -> None:
    """Read a stopped unicorn core back into ``regs`` (the PC is the next instruction)."""
    for name, reg in _UC_GPR.items():
        regs[name] = uc.reg_read(reg) & MASK32
    regs["pc"] = uc.reg_read(a.UC_ARM_REG_PC) & MASK32 & ~1
    regs["xpsr"] = uc.reg_read(a.UC_ARM_REG_XPSR) & MASK32
    regs["msp"] = uc.reg_read(a.UC_ARM_REG_MSP) & MASK32
    regs["psp"] = uc.reg_read(a.UC_ARM_REG_PSP) & MASK32
    regs["control"] = uc.reg_read(UC_ARM_REG_CONTROL) & 7
    regs["primask"] = uc.reg_read(a.UC_ARM_REG_PRIMASK) & 1
    if not profile.v6m:
        regs["basepri"] = uc.reg_read(a.UC_ARM_REG_BASEPRI) & 0xFF
        regs["faultmask"] = uc.reg_read(a.UC_ARM_REG_FAULTMASK) & 1
    if profile.fpu:
        regs["fpscr"] = uc.reg_read(a.UC_ARM_REG_FPSCR) & MASK32
        for name, reg in _UC_FP.items():
            regs[name] = uc.reg_read(reg) & MASK32
