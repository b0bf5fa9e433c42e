"""The Cortex-M core behind one MEM-AP, driven through its debug registers (stlink.md §2.9, §5).

On access port 0 the probe's own commands are used (READ/WRITEDEBUGREG: one round trip with the
status inline; READREG/WRITEREG for core registers). Behind any other access port only memory
commands carry the AP number, so words go through READMEM/WRITEMEM and core registers through
DCRSR/DCRDR, as pyOCD does everywhere. Halt, run and step are DHCSR writes on both paths.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable

from ...errors import TargetNotRespondingError
from . import protocol as p
from .commands import Commands
from .errors import StlinkStatusError, TargetNoAnswer

HALT_POLLS = 20  # DHCSR reads after a halt request before giving up (each is a USB round trip)
POLL_S = 0.001  # host pause between status polls
REGRDY_POLLS = 10  # DHCSR reads waiting for S_REGRDY after a DCRSR write
RESET_TIMEOUT_S = 0.5  # stlink-org waits up to 500 ms for the core to come out of reset halted
NRST_HOLD_S = 0.001  # NRST low time for a pin reset (stlink-org 100 us, pyOCD 100 ms; STM32 needs > 20 us)


class Core:
    """Debug control of the core on access port ``ap``."""

    def __init__(self, cmds: Commands, ap: int, sleep: Callable[[float], None]) -> None:
        self.cmds = cmds
        self.ap = ap
        self.sleep = sleep
        self.masked = False  # C_MASKINTS as this client last wrote it
        self.last_dhcsr: int | None = None  # DHCSR as last read (S_RESET_ST and the like clear on a read)

    # -- words ------------------------------------------------------------------------------------
    def read32(self, address: int) -> int:
        if address % 4:
            raise ValueError(f"a 32-bit access needs an aligned address, not {address:#010x}")
        if self.ap == 0:
            return self.cmds.read_debug_reg(address)
        return int(struct.unpack("<I", self.cmds.read_mem(address, 4, 4, self.ap))[0])

    def write32(self, address: int, value: int) -> None:
        if address % 4:
            raise ValueError(f"a 32-bit access needs an aligned address, not {address:#010x}")
        if self.ap == 0:
            self.cmds.write_debug_reg(address, value)
        else:
            self.cmds.write_mem(address, struct.pack("<I", value & 0xFFFF_FFFF), 4, self.ap)

    # -- run control ----------------------------------------------------------------------------------
    def dhcsr(self) -> int:
        self.last_dhcsr = self.read32(p.DHCSR)
        return self.last_dhcsr

    def is_halted(self) -> bool:
        return bool(self.dhcsr() & p.S_HALT)

    def _wait_halted(self, polls: int = HALT_POLLS) -> bool:
        for i in range(polls):
            if self.is_halted():
                return True
            if i + 1 < polls:
                self.sleep(POLL_S)
        return False

    def halt(self) -> None:
        masked = p.C_MASKINTS if self.masked else 0
        self.write32(p.DHCSR, p.DBGKEY | masked | p.C_HALT | p.C_DEBUGEN)
        if not self._wait_halted():
            state = describe_dhcsr(self.dhcsr())
            raise TargetNotRespondingError(f"the core on access port {self.ap} did not halt (it is {state})",
                                           hint="try --connect-under-reset")
        if masked:  # unmask now that it is halted
            self.write32(p.DHCSR, p.DBGKEY | p.C_HALT | p.C_DEBUGEN)
            self.masked = False

    def run(self, *, mask_interrupts: bool = False) -> None:
        """Resume. C_MASKINTS may only change while the core is halted (ARMv7-M C1.6.2), so a change
        is written with C_HALT still set, then C_HALT is cleared in a second write."""
        mask = p.C_MASKINTS if mask_interrupts else 0
        if mask_interrupts != self.masked:
            self.write32(p.DHCSR, p.DBGKEY | mask | p.C_HALT | p.C_DEBUGEN)
            self.masked = mask_interrupts
        self.write32(p.DHCSR, p.DBGKEY | mask | p.C_DEBUGEN)

    def step(self) -> None:
        """One instruction with interrupts masked (the sequence of stlink.md §2.9)."""
        self.write32(p.DHCSR, p.DBGKEY | p.C_MASKINTS | p.C_HALT | p.C_DEBUGEN)
        self.write32(p.DHCSR, p.DBGKEY | p.C_MASKINTS | p.C_STEP | p.C_DEBUGEN)
        if not self._wait_halted():
            raise TargetNotRespondingError(f"the core on access port {self.ap} did not stop after a step")
        self.write32(p.DHCSR, p.DBGKEY | p.C_HALT | p.C_DEBUGEN)
        self.masked = False

    # -- core registers ---------------------------------------------------------------------------------
    def _firmware_regs(self, regsel: int) -> bool:
        return self.ap == 0 and (regsel < 0x20 or self.cmds.version.has_fpu_readreg)

    def read_register(self, regsel: int) -> int:
        if self._firmware_regs(regsel):
            return self.cmds.read_reg(regsel)
        self.write32(p.DCRSR, regsel & 0x7F)
        self._wait_regrdy(regsel)
        return self.read32(p.DCRDR)

    def write_register(self, regsel: int, value: int) -> None:
        if self._firmware_regs(regsel):
            self.cmds.write_reg(regsel, value)
            return
        self.write32(p.DCRDR, value)
        self.write32(p.DCRSR, (regsel & 0x7F) | p.REGWNR)
        self._wait_regrdy(regsel)

    def _wait_regrdy(self, regsel: int) -> None:
        for _ in range(REGRDY_POLLS):
            if self.dhcsr() & p.S_REGRDY:
                return
        raise TargetNotRespondingError(f"core register {regsel:#x} transfer did not complete (S_REGRDY stayed 0); "
                                       "is the core halted?")

    # -- reset ----------------------------------------------------------------------------------------------
    def set_reset_catch(self) -> int:
        """Halt, enable the reset vector catch, clear DFSR; returns DEMCR as it was."""
        self.write32(p.DHCSR, p.DBGKEY | p.C_HALT | p.C_DEBUGEN)
        self.masked = False
        demcr = self.read32(p.DEMCR)
        self.write32(p.DEMCR, demcr | p.TRCENA | p.VC_CORERESET)
        self.write32(p.DFSR, p.DFSR_ALL)
        return demcr

    def wait_reset_halt(self, timeout_s: float = RESET_TIMEOUT_S) -> bool:
        """Poll until the core is halted with DFSR.VCATCH (stopped at the reset vector). Accesses may
        fail while the chip is in reset; those polls count as "not yet"."""
        waited = 0.0
        while True:
            try:
                if self.is_halted() and self.read32(p.DFSR) & p.DFSR_VCATCH:
                    return True
            except (StlinkStatusError, TargetNoAnswer):
                pass
            if waited >= timeout_s:
                return False
            self.sleep(POLL_S)
            waited += POLL_S

    def reset_and_halt(self, *, nrst: bool = False) -> None:
        """System reset with the reset vector caught: SYSRESETREQ (default) or the NRST pin."""
        demcr = self.set_reset_catch()
        self._reset(nrst)
        caught = self.wait_reset_halt()
        self.write32(p.DEMCR, (demcr | p.TRCENA) & ~p.VC_CORERESET)
        if not caught:
            how = "NRST" if nrst else "SYSRESETREQ"
            raise TargetNotRespondingError(f"the core on access port {self.ap} did not stop at its reset vector "
                                           f"after a {how} reset", hint="try --connect-under-reset")
        self.write32(p.DFSR, p.DFSR_ALL)

    def reset_and_run(self, *, nrst: bool = False) -> None:
        """System reset, the core runs from its reset vector (debug stays enabled)."""
        demcr = self.read32(p.DEMCR)
        if demcr & p.VC_CORERESET:
            self.write32(p.DEMCR, demcr & ~p.VC_CORERESET)
        if self.dhcsr() & p.S_HALT:
            self.run()
        self._reset(nrst)

    def _reset(self, nrst: bool) -> None:
        if nrst:
            self.cmds.drive_nrst(p.NRST_LOW)
            self.sleep(NRST_HOLD_S)
            self.cmds.drive_nrst(p.NRST_HIGH)
            return
        # the reset may cut the write's own acknowledge; the polls that follow tell
        with contextlib.suppress(StlinkStatusError, TargetNoAnswer):
            self.write32(p.AIRCR, p.AIRCR_SYSRESETREQ)


def core_name(cpuid: int) -> str | None:
    """"cortex-m4" and the like from a CPUID word (ARM implementer only)."""
    if cpuid >> 24 != 0x41:
        return None
    return p.CORES.get((cpuid >> 4) & 0xFFF)


def describe_dhcsr(dhcsr: int) -> str:
    """The core's state as DHCSR shows it: locked-up, halted, sleeping or running. (S_RESET_ST
    only says a reset happened since the last read; the raw word keeps it.)"""
    if dhcsr & p.S_LOCKUP:
        return "locked-up"
    if dhcsr & p.S_HALT:
        return "halted"
    if dhcsr & p.S_SLEEP:
        return "sleeping"
    return "running"
