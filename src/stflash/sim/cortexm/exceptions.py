"""Exception entry and return, fault escalation and lockup, done on the register dict (unicorn
reports faults and exception returns but leaves the architectural work to its user).

Modelled (ARMv7-M ARM B1.5, ARMv6-M B1.5): the 8-word frame (plus the 18 FP words when
CONTROL.FPCA is set) on the active stack with 8-byte alignment, EXC_RETURN in LR, the vector fetch
from VTOR, CFSR/HFSR/BFAR updates, escalation of a configurable fault to HardFault when it is
disabled or cannot preempt, lockup on a fault at priority -1 or higher, vector catch. Not
modelled: interrupt nesting beyond IPSR (no active-exception bits), late arrival, lazy FP stacking.
"""

from __future__ import annotations

from typing import Protocol

from ..faults import BusFault
from .debug import (
    CFSR_BITS,
    HFSR_FORCED,
    HFSR_VECTTBL,
    SHCSR_BUSFAULTENA,
    SHCSR_MEMFAULTENA,
    SHCSR_USGFAULTENA,
    VC_BUSERR,
    VC_CHKERR,
    VC_HARDERR,
    VC_MMERR,
    VC_NOCPERR,
    VC_STATERR,
    DebugRegisters,
)
from .profile import CoreProfile
from .regs import CONTROL_FPCA, CONTROL_SPSEL, IPSR_MASK, MASK32, XPSR_T, sp_name

NMI, HARDFAULT, MEMMANAGE, BUSFAULT, USAGEFAULT, SVCALL = 2, 3, 4, 5, 6, 11
LOCKUP_PC = 0xFFFF_FFFE
_IT_BITS = 0x0600_FC00

_CLASS = {
    **dict.fromkeys(("IACCVIOL", "DACCVIOL", "MSTKERR", "MUNSTKERR"), MEMMANAGE),
    **dict.fromkeys(("IBUSERR", "PRECISERR", "IMPRECISERR", "STKERR", "UNSTKERR"), BUSFAULT),
    **dict.fromkeys(("UNDEFINSTR", "INVSTATE", "INVPC", "NOCP", "UNALIGNED", "DIVBYZERO"), USAGEFAULT),
}
_ENABLE = {MEMMANAGE: SHCSR_MEMFAULTENA, BUSFAULT: SHCSR_BUSFAULTENA, USAGEFAULT: SHCSR_USGFAULTENA}
_VCATCH = {
    "UNDEFINSTR": VC_STATERR, "INVSTATE": VC_STATERR, "INVPC": VC_STATERR, "NOCP": VC_NOCPERR,
    "UNALIGNED": VC_CHKERR, "DIVBYZERO": VC_CHKERR,
}
EXC_RETURNS = {0xFFFF_FFF1, 0xFFFF_FFF9, 0xFFFF_FFFD}
EXC_RETURNS_FP = {0xFFFF_FFE1, 0xFFFF_FFE9, 0xFFFF_FFED}


class ExceptionHost(Protocol):
    regs: dict[str, int]
    debug: DebugRegisters
    profile: CoreProfile

    def mem_read32(self, address: int) -> int: ...

    def mem_write32(self, address: int, value: int) -> None: ...

    def enter_lockup(self) -> None: ...

    def vector_catch(self) -> None: ...


def execution_priority(core: ExceptionHost) -> int:
    regs = core.regs
    ipsr = regs["xpsr"] & IPSR_MASK
    if ipsr == 0:
        prio = 256
    elif ipsr == NMI:
        prio = -2
    elif ipsr == HARDFAULT:
        prio = -1
    elif 4 <= ipsr <= 15:
        prio = core.debug.priority(ipsr)
    else:
        prio = 0
    if regs.get("faultmask"):
        return min(prio, -1)
    if regs.get("primask"):
        return min(prio, 0)
    if regs.get("basepri"):
        return min(prio, regs["basepri"])
    return prio


def take_fault(core: ExceptionHost, kind: str, return_pc: int, address: int | None = None) -> None:
    """A synchronous fault of ``kind`` (a CFSR bit name) at ``return_pc``."""
    d = core.debug
    cls = _CLASS[kind]
    if not core.profile.v6m:
        d.cfsr |= CFSR_BITS[kind]
        if address is not None and kind == "PRECISERR":
            d.bfar = address & MASK32
            d.cfsr |= CFSR_BITS["BFARVALID"]
        elif address is not None and kind == "DACCVIOL":
            d.mmfar = address & MASK32
            d.cfsr |= CFSR_BITS["MMARVALID"]
    prio = execution_priority(core)
    target = cls
    if core.profile.v6m or not d.shcsr & _ENABLE[cls] or d.priority(cls) >= prio:
        target = HARDFAULT
    if target == HARDFAULT:
        if prio <= -1:
            core.enter_lockup()
            return
        if not core.profile.v6m:
            d.hfsr |= HFSR_FORCED
        catch = VC_HARDERR
    else:
        catch = {MEMMANAGE: VC_MMERR, BUSFAULT: VC_BUSERR}.get(cls, _VCATCH.get(kind, 0))
    enter_exception(core, target, return_pc, catch)


def escalate(core: ExceptionHost, return_pc: int, hfsr_bit: int = 0) -> None:
    """A HardFault without a configurable fault behind it (BKPT with debug off: DEBUGEVT)."""
    if execution_priority(core) <= -1:
        core.enter_lockup()
        return
    core.debug.hfsr |= hfsr_bit
    enter_exception(core, HARDFAULT, return_pc, VC_HARDERR)


def enter_exception(core: ExceptionHost, number: int, return_pc: int, catch: int = 0) -> None:
    regs, d, p = core.regs, core.debug, core.profile
    which = sp_name(regs)
    sp = regs[which]
    xpsr = regs["xpsr"]
    fp_frame = p.fpu and bool(regs["control"] & CONTROL_FPCA)
    size = 0x68 if fp_frame else 0x20
    align = (sp >> 2) & 1
    frame = ((sp - size) & ~(align << 2)) & MASK32
    words = [regs["r0"], regs["r1"], regs["r2"], regs["r3"], regs["r12"], regs["lr"], return_pc & ~1,
             (xpsr & ~(1 << 9)) | (align << 9)]
    if fp_frame:
        words += [regs[f"s{i}"] for i in range(16)] + [regs["fpscr"], 0]
    stacking_error = False
    for i, word in enumerate(words):
        try:
            core.mem_write32(frame + 4 * i, word)
        except BusFault:
            stacking_error = True
    regs[which] = frame
    from_handler = bool(xpsr & IPSR_MASK)
    lr = 0xFFFF_FFF1 if from_handler else (0xFFFF_FFFD if which == "psp" else 0xFFFF_FFF9)
    regs["lr"] = lr & ~0x10 if fp_frame else lr
    regs["control"] &= ~(CONTROL_SPSEL | CONTROL_FPCA)
    regs["xpsr"] = (xpsr & ~(IPSR_MASK | _IT_BITS)) | number
    if stacking_error:
        if not p.v6m:
            d.cfsr |= CFSR_BITS["STKERR"]
        if number in (NMI, HARDFAULT):
            core.enter_lockup()
            return
        number = HARDFAULT  # the derived fault replaces the exception being entered
        regs["xpsr"] = (regs["xpsr"] & ~IPSR_MASK) | number
        if not p.v6m:
            d.hfsr |= HFSR_FORCED
        catch = VC_HARDERR
    try:
        vector = core.mem_read32(d.vtor + 4 * number)
    except BusFault:
        if number == HARDFAULT:
            core.enter_lockup()
            return
        if not p.v6m:
            d.hfsr |= HFSR_VECTTBL
        regs["xpsr"] = (regs["xpsr"] & ~IPSR_MASK) | HARDFAULT
        try:
            vector = core.mem_read32(d.vtor + 4 * HARDFAULT)
        except BusFault:
            core.enter_lockup()
            return
        catch = VC_HARDERR
    regs["pc"] = vector & ~1 & MASK32
    regs["xpsr"] = (regs["xpsr"] & ~XPSR_T) | (XPSR_T if vector & 1 else 0)
    if catch and d.catches(catch):
        core.vector_catch()


def exception_return(core: ExceptionHost, exc_return: int) -> None:
    """Unstack after a branch to an EXC_RETURN value in Handler mode."""
    regs, p = core.regs, core.profile
    valid = EXC_RETURNS | (EXC_RETURNS_FP if p.fpu else set())
    if exc_return not in valid:
        take_fault(core, "INVPC", exc_return)
        return
    to_thread = bool(exc_return & 8)
    which = "psp" if exc_return & 4 else "msp"
    fp_frame = not exc_return & 0x10
    sp = regs[which]
    count = 26 if fp_frame else 8
    try:
        words = [core.mem_read32(sp + 4 * i) for i in range(count)]
    except BusFault:
        if not p.v6m:
            core.debug.cfsr |= CFSR_BITS["UNSTKERR"]
        escalate(core, exc_return)
        return
    for i, name in enumerate(("r0", "r1", "r2", "r3", "r12", "lr")):
        regs[name] = words[i]
    regs["pc"] = words[6] & ~1
    xpsr = words[7]
    if fp_frame:
        for i in range(16):
            regs[f"s{i}"] = words[8 + i]
        regs["fpscr"] = words[24]
    regs[which] = (sp + 4 * (26 if fp_frame else 8) + (4 if xpsr & (1 << 9) else 0)) & MASK32
    regs["xpsr"] = xpsr & ~(1 << 9)
    control = regs["control"] & ~(CONTROL_SPSEL | CONTROL_FPCA)
    if to_thread and which == "psp":
        control |= CONTROL_SPSEL
    if fp_frame and p.fpu:
        control |= CONTROL_FPCA
    regs["control"] = control
    if to_thread:
        regs["xpsr"] &= ~IPSR_MASK
