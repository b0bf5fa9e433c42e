"""The System Control Space of one core (0xE000_E000): the debug registers (DHCSR, DCRSR, DCRDR,
DEMCR, DFSR), the system control block (CPUID, VTOR, AIRCR, fault status...) and the NVIC/SysTick
words (stored only), with the DWT and FPB pages next to it.

Reset domains (ARMv7-M ARM B1.5.x, C1.6): the debug registers, the FPB and the DWT are reset by a
power-on reset only; a system reset (NRST, SYSRESETREQ, option load) or a VECTRESET resets the
system control block. The DHCSR control bits (C_DEBUGEN, C_HALT, C_STEP, C_MASKINTS) therefore
survive a system reset: a core the debugger had halted halts again right out of reset.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..bus import lane_value, sub_word
from .fpb import Dwt, Fpb
from .profile import CoreProfile

MASK32 = 0xFFFF_FFFF
SCS, DWT_BASE, FPB_BASE = 0xE000_E000, 0xE000_1000, 0xE000_2000

# DHCSR
DBGKEY = 0xA05F
C_DEBUGEN, C_HALT, C_STEP, C_MASKINTS, C_SNAPSTALL = 1, 2, 4, 8, 0x20
S_REGRDY, S_HALT, S_SLEEP, S_LOCKUP, S_RETIRE_ST, S_RESET_ST = 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 24, 1 << 25
# DCRSR
REGWNR = 1 << 16
# DEMCR
VC_CORERESET, VC_MMERR, VC_NOCPERR, VC_CHKERR, VC_STATERR = 1, 1 << 4, 1 << 5, 1 << 6, 1 << 7
VC_BUSERR, VC_INTERR, VC_HARDERR, TRCENA = 1 << 8, 1 << 9, 1 << 10, 1 << 24
_DEMCR_V7 = 0x010F_07F1
_DEMCR_V6 = TRCENA | VC_HARDERR | VC_CORERESET  # bit 24 is DWTENA on ARMv6-M
# DFSR
DFSR_HALTED, DFSR_BKPT, DFSR_DWTTRAP, DFSR_VCATCH, DFSR_EXTERNAL = 1, 2, 4, 8, 16
# AIRCR
VECTKEY = 0x05FA
VECTRESET, VECTCLRACTIVE, SYSRESETREQ = 1, 2, 4
# fault status (CFSR = MMFSR | BFSR << 8 | UFSR << 16), HFSR
CFSR_BITS = {
    "IACCVIOL": 1 << 0, "DACCVIOL": 1 << 1, "MUNSTKERR": 1 << 3, "MSTKERR": 1 << 4, "MMARVALID": 1 << 7,
    "IBUSERR": 1 << 8, "PRECISERR": 1 << 9, "IMPRECISERR": 1 << 10, "UNSTKERR": 1 << 11,
    "STKERR": 1 << 12, "BFARVALID": 1 << 15,
    "UNDEFINSTR": 1 << 16, "INVSTATE": 1 << 17, "INVPC": 1 << 18, "NOCP": 1 << 19,
    "UNALIGNED": 1 << 24, "DIVBYZERO": 1 << 25,
}
HFSR_VECTTBL, HFSR_FORCED, HFSR_DEBUGEVT = 1 << 1, 1 << 30, 1 << 31
# SHCSR enable bits of the configurable faults
SHCSR_MEMFAULTENA, SHCSR_BUSFAULTENA, SHCSR_USGFAULTENA = 1 << 16, 1 << 17, 1 << 18

CPUID, ICSR, VTOR, AIRCR, SCR, CCR = 0xD00, 0xD04, 0xD08, 0xD0C, 0xD10, 0xD14
SHPR1, SHPR2, SHPR3, SHCSR, CFSR, HFSR, DFSR = 0xD18, 0xD1C, 0xD20, 0xD24, 0xD28, 0xD2C, 0xD30
MMFAR, BFAR, CPACR = 0xD34, 0xD38, 0xD88
DHCSR, DCRSR, DCRDR, DEMCR = 0xDF0, 0xDF4, 0xDF8, 0xDFC
FPCCR, FPCAR, FPDSCR, MVFR0, MVFR1, MVFR2 = 0xF34, 0xF38, 0xF3C, 0xF40, 0xF44, 0xF48

# MVFR0/MVFR1/MVFR2 of the FPUs on STM32 (single precision FPv4/FPv5, double precision FPv5)
_MVFR_SP = (0x1011_0021, 0x1100_0011, 0x0000_0040)
_MVFR_DP = (0x1011_0221, 0x1200_0011, 0x0000_0040)


class CoreControl(Protocol):
    """What the registers ask of the core they belong to."""

    @property
    def halted(self) -> bool: ...

    @property
    def sleeping(self) -> bool: ...

    @property
    def locked(self) -> bool: ...

    @property
    def held_in_reset(self) -> bool: ...

    def cycle_count(self) -> int: ...

    def ipsr(self) -> int: ...

    def debug_halt(self) -> None: ...

    def debug_resume(self, step: bool, attached: bool) -> None: ...

    def poll(self) -> None: ...

    def transfer(self, regsel: int, write: bool) -> bool: ...

    def local_reset(self) -> None: ...

    def system_reset_request(self) -> None: ...


class DebugRegisters:
    """Storage and decoding of one core's SCS/DWT/FPB words; actions go to ``core``."""

    def __init__(self, profile: CoreProfile, core: CoreControl, *, fpu_dp: bool = False) -> None:
        self.profile = profile
        self.core = core
        self.mvfr = (_MVFR_DP if fpu_dp else _MVFR_SP) if profile.fpu else (0, 0, 0)
        self.fpb = Fpb(profile)
        self.dwt = Dwt(profile)
        self.initial_vtor = 0
        self.power_on()

    # -- reset domains ----------------------------------------------------------------------
    def power_on(self) -> None:
        self.ctrl = 0  # DHCSR C_* bits
        self.demcr = 0
        self.dfsr = 0
        self.dcrdr = 0
        self.reset_st = False
        self.retire_st = False
        self.regrdy = False
        self.fpb.reset()
        self.dwt.reset()
        self.system_reset()

    def system_reset(self) -> None:
        self.vtor = self.initial_vtor
        self.prigroup = 0
        self.scr = 0
        self.ccr = 0x0000_0204 if self.profile.v6m else 0x0000_0200  # STKALIGN (+UNALIGN_TRP on v6-M)
        self.shpr = {SHPR1: 0, SHPR2: 0, SHPR3: 0}
        self.shcsr = 0
        self.cfsr = 0
        self.hfsr = 0
        self.mmfar = 0
        self.bfar = 0
        self.cpacr = 0
        self.fpccr = 0xC000_0000 if self.profile.fpu else 0  # ASPEN | LSPEN
        self.fpcar = 0
        self.fpdscr = 0
        self.words: dict[int, int] = {}  # NVIC, SysTick, ACTLR and other SCS words without a model
        self.reset_st = True

    # -- queries for the core -------------------------------------------------------------------
    @property
    def debugen(self) -> bool:
        return bool(self.ctrl & C_DEBUGEN)

    @property
    def maskints(self) -> bool:
        return bool(self.ctrl & C_MASKINTS)

    def catches(self, bit: int) -> bool:
        return self.debugen and bool(self.demcr & bit)

    def priority(self, exception: int) -> int:
        """Configured priority of system exception 4..15 (SHPR1..3, 8 bits, STM32 use [7:4])."""
        reg = SHPR1 + ((exception - 4) // 4) * 4
        return (self.shpr.get(reg, 0) >> (8 * (exception % 4))) & 0xFF

    def note_halt(self, reason: int) -> None:
        self.ctrl |= C_HALT
        self.dfsr |= reason
        self.regrdy = True

    # -- bus interface ---------------------------------------------------------------------------
    def read(self, address: int, size: int, master: str) -> int:
        return sub_word(self._read_word(address & ~3, master), address & 3, size)

    def write(self, address: int, size: int, value: int, master: str) -> None:
        lane, mask = lane_value(value, address & 3, size)
        self._write_word(address & ~3, lane, mask, master)

    def _read_word(self, address: int, master: str) -> int:
        if FPB_BASE <= address < FPB_BASE + 0x1000:
            return self.fpb.read(address - FPB_BASE)
        if DWT_BASE <= address < DWT_BASE + 0x1000:
            return self.dwt.read(address - DWT_BASE, self.core.cycle_count())
        return self._scs_read(address - SCS, master)

    def _write_word(self, address: int, value: int, mask: int, master: str) -> None:
        if FPB_BASE <= address < FPB_BASE + 0x1000:
            self.fpb.write(address - FPB_BASE, _merge(self.fpb.read(address - FPB_BASE), value, mask))
        elif DWT_BASE <= address < DWT_BASE + 0x1000:
            old = self.dwt.read(address - DWT_BASE, self.core.cycle_count())
            self.dwt.write(address - DWT_BASE, _merge(old, value, mask), self.core.cycle_count(),
                           bool(self.demcr & TRCENA))
        else:
            self._scs_write(address - SCS, value, mask, master)

    # -- the SCS ---------------------------------------------------------------------------------
    def _scs_read(self, off: int, master: str) -> int:
        p = self.profile
        if off == DHCSR:
            return self._dhcsr(master)
        simple = {
            CPUID: p.cpuid,
            ICSR: self.core.ipsr(),  # VECTACTIVE
            VTOR: 0 if p.name == "cortex-m0" else self.vtor,
            AIRCR: (0xFA05 << 16) | (0 if p.v6m else self.prigroup << 8),
            SCR: self.scr, CCR: self.ccr, SHCSR: self.shcsr,
            DFSR: self.dfsr, DCRDR: self.dcrdr, DEMCR: self.demcr, DCRSR: 0,
        }
        if off in simple:
            return simple[off]
        if off in self.shpr:
            return self.shpr[off]
        if not p.v6m:
            v7 = {CFSR: self.cfsr, HFSR: self.hfsr, MMFAR: self.mmfar, BFAR: self.bfar}
            if off in v7:
                return v7[off]
        if p.fpu:
            fp = {CPACR: self.cpacr, FPCCR: self.fpccr, FPCAR: self.fpcar, FPDSCR: self.fpdscr,
                  MVFR0: self.mvfr[0], MVFR1: self.mvfr[1], MVFR2: self.mvfr[2] if p.fpb_rev else 0}
            if off in fp:
                return fp[off]
        return self.words.get(off, 0)

    def _dhcsr(self, master: str) -> int:
        core = self.core
        if master == "debug":
            core.poll()  # a debugger waiting for a halt: the core's chance to run ahead
        value = self.ctrl
        if core.halted:
            value |= S_HALT | (S_REGRDY if self.regrdy else 0)
        if core.sleeping:
            value |= S_SLEEP
        if core.locked:
            value |= S_LOCKUP
        if self.retire_st:
            value |= S_RETIRE_ST
        if self.reset_st or core.held_in_reset:
            value |= S_RESET_ST
        self.retire_st = False  # sticky bits clear when read
        self.reset_st = False
        return value

    def _scs_write(self, off: int, value: int, mask: int, master: str) -> None:
        p = self.profile
        full = mask == MASK32
        if off == DHCSR:
            if full and master == "debug":  # software cannot drive halting debug
                self._write_dhcsr(value)
        elif off == DCRSR:
            if full:
                self.regrdy = False
                self.regrdy = self.core.transfer(value & 0x7F, bool(value & REGWNR))
        elif off == DCRDR:
            self.dcrdr = _merge(self.dcrdr, value, mask)
        elif off == DEMCR:
            old = self.demcr
            self.demcr = _merge(old, value, mask) & (_DEMCR_V6 if p.v6m else _DEMCR_V7)
            if (old ^ self.demcr) & TRCENA:
                self.dwt.retime(bool(self.demcr & TRCENA), self.core.cycle_count())
        elif off == DFSR:
            self.dfsr &= ~(value & 0x1F)
        elif off == AIRCR:
            if full and value >> 16 == VECTKEY:
                self._write_aircr(value)
        elif off == VTOR:
            if p.name != "cortex-m0":
                self.vtor = _merge(self.vtor, value, mask) & 0xFFFF_FF80
        elif off == SCR:
            self.scr = _merge(self.scr, value, mask) & 0x16
        elif off == CCR:
            if not p.v6m:
                self.ccr = (_merge(self.ccr, value, mask) & 0x0007_031B) | 0x200
        elif off in self.shpr:
            self.shpr[off] = _merge(self.shpr[off], value, mask) & (0xF0F0_F0F0 if not p.v6m else 0xC0C0_C0C0)
        elif off == SHCSR:
            self.shcsr = _merge(self.shcsr, value, mask) & 0x0007_FD8B
        elif off in (CFSR, HFSR) and not p.v6m:
            if off == CFSR:
                self.cfsr &= ~value
            else:
                self.hfsr &= ~value
        elif off == MMFAR and not p.v6m:
            self.mmfar = _merge(self.mmfar, value, mask)
        elif off == BFAR and not p.v6m:
            self.bfar = _merge(self.bfar, value, mask)
        elif off == CPACR and p.fpu:
            self.cpacr = _merge(self.cpacr, value, mask) & 0x00F0_0000
        elif off == FPCCR and p.fpu:
            self.fpccr = _merge(self.fpccr, value, mask) & 0xC000_01FB
        elif off == FPCAR and p.fpu:
            self.fpcar = _merge(self.fpcar, value, mask) & ~7 & MASK32
        elif off == FPDSCR and p.fpu:
            self.fpdscr = _merge(self.fpdscr, value, mask) & 0x07C0_0000
        elif off not in (CPUID, ICSR, MVFR0, MVFR1, MVFR2) and off < 0xFD0:
            self.words[off] = _merge(self.words.get(off, 0), value, mask)

    def _write_dhcsr(self, value: int) -> None:
        if value >> 16 != DBGKEY:
            return  # writes without the key are ignored
        new = value & (C_DEBUGEN | C_HALT | C_STEP | C_MASKINTS | C_SNAPSTALL)
        core = self.core
        if not new & C_DEBUGEN:
            self.ctrl = 0
            if core.halted:
                core.debug_resume(False, attached=False)
            return
        self.ctrl = new
        if new & C_HALT and not core.halted:
            core.debug_halt()
        elif not new & C_HALT and core.halted:
            core.debug_resume(bool(new & C_STEP), attached=True)

    def _write_aircr(self, value: int) -> None:
        self.prigroup = (value >> 8) & 7
        if value & SYSRESETREQ:
            self.core.system_reset_request()
        elif value & VECTRESET and self.profile.vectreset:
            self.core.local_reset()

    # -- state ------------------------------------------------------------------------------------
    _FIELDS = ("ctrl", "demcr", "dfsr", "dcrdr", "reset_st", "retire_st", "regrdy", "vtor", "prigroup",
               "scr", "ccr", "shcsr", "cfsr", "hfsr", "mmfar", "bfar", "cpacr", "fpccr", "fpcar", "fpdscr",
               "initial_vtor")

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: int(getattr(self, name)) for name in self._FIELDS}
        out["shpr"] = {str(k): v for k, v in self.shpr.items()}
        out["words"] = {str(k): v for k, v in self.words.items()}
        out["fpb"] = self.fpb.state()
        out["dwt"] = self.dwt.state()
        return out

    def load(self, state: dict[str, Any]) -> None:
        for name in self._FIELDS:
            value = int(state[name])
            setattr(self, name, bool(value) if name in ("reset_st", "retire_st", "regrdy") else value)
        self.shpr = {int(k): int(v) for k, v in state["shpr"].items()}
        self.words = {int(k): int(v) for k, v in state["words"].items()}
        self.fpb.load(state["fpb"])
        self.dwt.load(state["dwt"])


def _merge(old: int, value: int, mask: int) -> int:
    return ((old & ~mask) | (value & mask)) & MASK32
