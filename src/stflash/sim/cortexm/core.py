"""``CortexM``: one simulated core — its run state, its registers, its SCS, and when it executes.

Run policy (virtual time only, see ``docs/timing-model.md`` "Cortex-M core"):

* A running core never falls behind the shared clock where anyone could tell: before every debug
  access the chip lets each running core execute up to the current time ("catch-up").
* When the debugger resumes or steps a halted core (DHCSR), the core runs at once, ahead of the
  clock, until it halts, sleeps, locks up, or ``RUN_AHEAD_NS`` of its time have passed; the
  clock moves with it. While a core resumed by the debugger is still running, each DHCSR read by
  the debugger lets it run ``RUN_AHEAD_NS`` further: tools wait between such polls in wall time
  (st-flash: 10 ms), which the virtual clock cannot see otherwise.
* A catch-up executes at most ``MAX_WORK_CYCLES`` cycles; a core further behind than that (the
  clock jumped over a long ROM operation, say) skips the rest of the gap where it is.
* A core whose PC is in system memory runs the ROM bootloader, which the bootloader simulators
  model outside the core: it idles there.
* Code the UART bootloader started with Go (``jump``) is driven by the UART host's line instead
  (``run_to``): it executes all of the time it is given, since the host waits for what it does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..clock import MS
from ..faults import BusFault
from . import exceptions as exc
from .debug import (
    C_HALT,
    DFSR_BKPT,
    DFSR_HALTED,
    DFSR_VCATCH,
    HFSR_DEBUGEVT,
    VC_CORERESET,
    DebugRegisters,
)
from .engine import NS_PER_S, Engine, RunResult
from .memory import CpuMemory
from .profile import CoreProfile, reset_clock_hz
from .regs import IPSR_MASK, MASK32, XPSR_T, initial_regs, pull, push, read_sel, write_sel

if TYPE_CHECKING:
    from ..chip import SimChip

RUN_AHEAD_NS = 10 * MS
MAX_WORK_CYCLES = 2_000_000  # about half a second of wall time for a busy loop
EXCEPTION_CYCLES = 12  # exception entry/return latency of Cortex-M3/M4/M7 (TRMs: 12 cycles)
STATES = ("off", "running", "halted", "sleeping", "lockup", "gated")


class CortexM:
    def __init__(self, sim: SimChip, index: int, profile: CoreProfile) -> None:
        self.sim = sim
        self.index = index
        self.profile = profile
        self.hz = reset_clock_hz(sim.chip)
        chip = sim.chip
        # the Cortex-M7 of H7 and F76x/F77x has the double-precision FPU; other M7/M4 single
        fpu_dp = profile.name == "cortex-m7" and (chip.family.upper() == "H7" or chip.dev_id == 0x451)
        self.debug = DebugRegisters(profile, self, fpu_dp=fpu_dp)
        self.memory = CpuMemory(sim, index, self.debug)
        self.regs = initial_regs(profile)
        self.state = "off"
        self.time = sim.clock.now  # how far this core has executed on the shared clock
        self.executed_ns = 0  # time spent running or asleep (not halted, locked up, in reset) since reset
        self.total_cycles = 0  # modelled cycles executed by this model (DWT_CYCCNT counts from it)
        self.attached_run = False  # resumed by the debugger: its DHCSR polls let it run ahead
        self.spinning = False  # stuck in a branch-to-self: nothing but an exception moves it
        self.reset_pending = False  # VECTRESET written while the core itself was executing
        self.waiting = False  # its last run_to ended waiting for nothing scheduled (see run_to)
        self.quiet_until: int | None = None  # its last run_to ended polling until this event
        self._engine: Engine | None = None
        self._dirty = True  # registers changed outside unicorn
        self._in_run = False

    # -- CoreControl (what the SCS asks) -----------------------------------------------------------
    @property
    def halted(self) -> bool:
        return self.state == "halted"

    @property
    def sleeping(self) -> bool:
        return self.state == "sleeping"

    @property
    def locked(self) -> bool:
        return self.state == "lockup"

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def held_in_reset(self) -> bool:
        return self.sim.held_in_reset

    def cycle_count(self) -> int:
        return self.total_cycles

    def ipsr(self) -> int:
        return self.regs["xpsr"] & IPSR_MASK

    def debug_halt(self) -> None:
        if self.state in ("running", "sleeping", "lockup") and not self.held_in_reset:
            self._halt(DFSR_HALTED)

    def debug_resume(self, step: bool, attached: bool) -> None:
        if self.state != "halted":
            return
        self.time = max(self.time, self.sim.clock.now)
        self.spinning = False
        self.state = "running"
        if step:
            self._step()
            return
        self.attached_run = attached
        if attached:
            self.run_until(self.time + RUN_AHEAD_NS, ahead=True)

    def poll(self) -> None:
        if self.state == "running" and self.attached_run and self.debug.debugen:
            self.run_until(max(self.time, self.sim.clock.now) + RUN_AHEAD_NS, ahead=True)

    def transfer(self, regsel: int, write: bool) -> bool:
        """A DCRSR transfer; only a halted core answers (S_REGRDY stays 0 otherwise)."""
        if self.state != "halted":
            return False
        if write:
            if write_sel(self.regs, regsel, self.debug.dcrdr, self.profile):
                self._dirty = True
                self.spinning = False
        else:
            value = read_sel(self.regs, regsel, self.profile)
            if value is not None:
                self.debug.dcrdr = value
        return True

    def local_reset(self) -> None:
        if self._in_run:
            self.reset_pending = True
        else:
            self.reset("local")

    def system_reset_request(self) -> None:
        self.sim.request_reset("AIRCR.SYSRESETREQ", "system")

    # -- ExceptionHost ------------------------------------------------------------------------------
    def mem_read32(self, address: int) -> int:
        return self.memory.read(address & MASK32, 4)

    def mem_write32(self, address: int, value: int) -> None:
        self.memory.write(address & MASK32, 4, value & MASK32)

    def enter_lockup(self) -> None:
        self.state = "lockup"
        self.regs["pc"] = exc.LOCKUP_PC
        self._dirty = True

    def vector_catch(self) -> None:
        self._halt(DFSR_VCATCH)

    # -- reset ----------------------------------------------------------------------------------------
    def boot_address(self) -> int:
        """Where the vector table is fetched at reset, and VTOR's reset value: 0 (the boot alias)
        unless the part wires a boot address option to the core's INITVTOR input (F7, H7)."""
        ctl = self.sim.controller
        return 0 if ctl is None else ctl.boot_address(self.sim.boot0, self.profile.name)

    def reset(self, kind: str) -> None:
        """``"power"``, ``"system"``/``"obl"`` (the chip's resets) or ``"local"`` (VECTRESET)."""
        d = self.debug
        if kind == "power":
            d.power_on()
            self.regs = initial_regs(self.profile)
            self._engine = None
        else:
            d.system_reset()
        self.reset_pending = False
        self.time = self.sim.clock.now
        self.executed_ns = 0
        self.attached_run = False
        self.spinning = False
        self._dirty = True
        if not self.sim.core_running(self.index):
            self.state = "gated"
            return
        boot = d.initial_vtor = d.vtor = self.boot_address()
        regs = self.regs
        regs.update(lr=MASK32, control=0, primask=0, faultmask=0, basepri=0, xpsr=0)
        self.state = "running"
        try:
            sp, pc = self.mem_read32(boot), self.mem_read32(boot + 4)
        except BusFault:
            regs["xpsr"] = exc.HARDFAULT
            self.enter_lockup()  # no vector table to start from
        else:
            regs.update(msp=sp & ~3 & MASK32, pc=pc & ~1 & MASK32, xpsr=XPSR_T if pc & 1 else 0)
        if d.debugen and (d.ctrl & C_HALT or d.demcr & VC_CORERESET):
            self._halt(DFSR_VCATCH if d.demcr & VC_CORERESET else DFSR_HALTED)

    # -- execution ------------------------------------------------------------------------------------
    def catch_up(self) -> None:
        """Execute up to the shared clock (before a debug access)."""
        if self.sim.clock.now > self.time:
            self.run_until(self.sim.clock.now, ahead=False)

    def next_event(self) -> int | None:
        """The next moment a polled register can change: the end of a running flash operation, or
        a peripheral's next event (a character arriving or leaving USART1)."""
        ctl = self.sim.controller
        now = self.sim.clock.now
        ends = [t.until for t in ctl.timers() if t.until > now] if ctl is not None else []
        event = self.sim.peripherals.next_event(now)
        if event is not None:
            ends.append(event)
        return min(ends) if ends else None

    def jump(self, sp: int, pc: int, at: int) -> None:
        """What the system bootloader's Go does (AN3155 3.5): MSP := ``sp``, PC := ``pc`` (bit 0
        selects Thumb state; without it the first instruction faults), Thread mode, privileged,
        on the main stack, interrupts unmasked; the code starts at ``at``."""
        regs = self.regs
        regs.update(msp=sp & ~3 & MASK32, pc=pc & ~1 & MASK32, xpsr=XPSR_T if pc & 1 else 0, control=0,
                    primask=0, faultmask=0, basepri=0, lr=MASK32)
        if self.state in ("running", "sleeping", "lockup"):
            self.state = "running"
        self.time = max(self.time, at)
        self.spinning = False
        self.attached_run = False
        self.waiting = False
        self._dirty = True

    def run_to(self, t_end: int) -> bool:
        """Execute up to ``t_end``, every cycle of it (no ``MAX_WORK_CYCLES`` gap is skipped: the
        host on the UART waits for what this code does). True when the core then waits for
        something no scheduled event will bring (a polling loop with nothing pending, ``b .``,
        asleep, halted, locked up, held in reset): it stands still until someone acts. When it
        stopped polling for a scheduled event, ``quiet_until`` says when that comes."""
        if self._in_run:
            return False
        self._in_run = True
        waiting = False
        self.quiet_until = None
        try:
            with self.sim.clock.behind(self.time):
                while self.time < t_end and not waiting:
                    if self.sim._pending_reset is not None:
                        break
                    runs = self.state == "running" and not self.held_in_reset
                    if runs and not self.regs["xpsr"] & XPSR_T:  # wherever it is, nothing executes
                        self._exception_cost()
                        exc.take_fault(self, "INVSTATE", self.regs["pc"])
                    elif not runs or self.spinning or self.memory.in_system_memory(self.regs["pc"]):
                        self._idle_to(t_end, self.state in ("running", "sleeping") and not self.held_in_reset)
                        waiting = True
                    else:
                        result = self._execute(t_end, step=False)
                        self._handle(result)
                        if result.reason in ("budget", "poll"):
                            if result.reason == "poll":  # standing still until the next event
                                self.quiet_until = self.next_event()
                                waiting = self.quiet_until is None
                            self._idle_to(t_end)
        finally:
            self._in_run = False
        self.waiting = waiting or self.spinning or self.state != "running"
        return self.waiting

    def run_until(self, t_end: int, *, ahead: bool) -> None:
        """Execute up to ``t_end``. Behind the clock (``ahead`` False) the time a core spends
        waiting, asleep or locked up passes with it; ahead of the clock only execution moves it
        (and the clock with it): a core that has nothing left to do stops there."""
        if self._in_run:
            return
        self._in_run = True
        try:
            if ahead:
                self._run_until(t_end, ahead)
            else:  # catching up: what the core starts is timed from its own moment, not the clock's
                with self.sim.clock.behind(self.time):
                    self._run_until(t_end, ahead)
        finally:
            self._in_run = False
        if ahead:
            self.sim.clock.advance_to(self.time)

    def _idle_to(self, t_end: int, executing: bool = True) -> None:
        if t_end > self.time:
            if executing:
                self.executed_ns += t_end - self.time
            self.time = t_end

    def _run_until(self, t_end: int, ahead: bool) -> None:
        while self.time < t_end:
            runs = self.state == "running" and not self.held_in_reset
            if not runs or self.spinning or self.memory.in_system_memory(self.regs["pc"]) \
                    or self.sim._pending_reset is not None:
                if not ahead:
                    self._idle_to(t_end, self.state in ("running", "sleeping") and not self.held_in_reset)
                return
            if not self.regs["xpsr"] & XPSR_T:
                self._exception_cost()
                exc.take_fault(self, "INVSTATE", self.regs["pc"])
                continue
            result = self._execute(t_end, step=False)
            self._handle(result)
            if result.reason == "budget":
                self._idle_to(t_end)  # less than one block was left
            elif result.reason in ("poll", "work", "reset"):
                if not ahead and result.reason != "reset":
                    self._idle_to(t_end)  # waiting (or too far behind): the rest passes where it is
                return

    def _engine_ready(self) -> Engine:
        memory = self.memory
        signature = (
            tuple((r.start, r.size, id(r.data)) for r in memory.ram_regions()),
            tuple((b.base, b.size, id(b.data)) for b in self.sim.banks),
            tuple(memory.aliases()),
        )
        if self._engine is None or self._engine.signature != signature:
            self._engine = Engine(self, signature)
            self._dirty = True
        ctl = self.sim.controller
        self._engine.set_flash_access(ctl is None or not ctl.read_blocked("cpu"))
        if self._dirty:
            push(self._engine.uc, self.regs, self.profile, self._engine.pristine)
            self._dirty = False
        return self._engine

    def _execute(self, t_end: int, *, step: bool) -> RunResult:
        engine = self._engine_ready()
        start = self.time
        pc = self.regs["pc"]
        result = engine.run(pc, start, t_end, step=step, work_cap=MAX_WORK_CYCLES)
        pull(engine.uc, self.regs, self.profile)
        self.total_cycles += result.cycles
        if result.cycles:
            self.debug.retire_st = True
        self.time = max(self.time, result.end_ns)
        self.executed_ns += self.time - start
        return result

    def _exception_cost(self) -> None:
        self.time += EXCEPTION_CYCLES * NS_PER_S // self.hz
        self.executed_ns += EXCEPTION_CYCLES * NS_PER_S // self.hz
        self.total_cycles += EXCEPTION_CYCLES
        self._dirty = True

    def _handle(self, result: RunResult) -> None:
        reason, pc = result.reason, self.regs["pc"]
        if reason == "spin":
            self.spinning = True
        elif reason in ("bkpt", "breakpoint"):
            if self.debug.debugen:
                self._halt(DFSR_BKPT)
            else:
                self._exception_cost()
                exc.escalate(self, pc, HFSR_DEBUGEVT)
        elif reason == "wfi":
            self.state = "sleeping"
        elif reason == "svc":
            self._exception_cost()
            if self.debug.priority(exc.SVCALL) < exc.execution_priority(self):
                exc.enter_exception(self, exc.SVCALL, pc)
            else:
                exc.escalate(self, pc)
        elif reason == "exc_return":
            self._exception_cost()
            exc.exception_return(self, pc | 1)
        elif reason == "fault":
            self._exception_cost()
            exc.take_fault(self, result.fault, pc, result.address)
        elif reason == "reset" and self.reset_pending:
            self.reset("local")

    def _step(self) -> None:
        """C_STEP: one instruction, then halt again (an exception taken on the way halts at the
        first instruction of its handler)."""
        if self.memory.in_system_memory(self.regs["pc"]) or not self.regs["xpsr"] & XPSR_T:
            if not self.regs["xpsr"] & XPSR_T:
                exc.take_fault(self, "INVSTATE", self.regs["pc"])
        else:
            result = self._execute(self.time + NS_PER_S, step=True)
            self._handle(result)
        self.sim.clock.advance_to(self.time)
        if self.state in ("running", "sleeping"):
            self._halt(DFSR_HALTED)

    def _halt(self, reason: int) -> None:
        self.state = "halted"
        self.debug.note_halt(reason)

    # -- state ---------------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "state": self.state, "regs": dict(self.regs), "time": self.time,
            "executed_ns": self.executed_ns, "total_cycles": self.total_cycles,
            "attached_run": self.attached_run, "spinning": self.spinning, "debug": self.debug.state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        if state["state"] not in STATES:
            raise ValueError(f"unknown core state {state['state']!r}")
        self.state = str(state["state"])
        regs = initial_regs(self.profile)
        regs.update({k: int(v) for k, v in state["regs"].items() if k in regs})
        self.regs = regs
        self.time = int(state["time"])
        self.executed_ns = int(state["executed_ns"])
        self.total_cycles = int(state["total_cycles"])
        self.attached_run = bool(state["attached_run"])
        self.spinning = bool(state["spinning"])
        self.debug.load(state["debug"])
        self._dirty = True
