"""One core's instruction execution on unicorn, wired to the simulated chip.

Memory: SRAM and flash are mapped straight onto the chip's ``bytearray`` s (``mem_map_ptr``), so
what the probe writes is what the core fetches and the reverse. Flash stores are routed to the
flash controller (a write hook runs the controller's program logic, and the raw store unicorn
then makes is put back to the controller's result before anything else can see it); flash reads
stall while the controller is busy. Every other address (peripherals, flash registers, system
memory, option bytes, the core's own SCS) is mapped lazily as MMIO that calls the chip's bus with
master "cpu".

Time: about one cycle per instruction — a block costs one cycle per halfword of code, so a 32-bit
instruction counts two. The shared virtual clock is brought up to the core's time before every
MMIO access, so flash-busy loops see BSY clear when the operation's time has passed. Two kinds of
waiting are skipped rather than executed: a branch-to-self (``b .``) and a polling loop (the same
MMIO reads returning the same values, iteration after iteration) — the core jumps to the next
moment something can change (the end of a running flash operation) or to the end of its slice.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import unicorn
from unicorn import (
    UC_ARCH_ARM,
    UC_HOOK_BLOCK,
    UC_HOOK_CODE,
    UC_HOOK_INSN_INVALID,
    UC_HOOK_INTR,
    UC_HOOK_MEM_PROT,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_MEM_FETCH_PROT,
    UC_MEM_FETCH_UNMAPPED,
    UC_MEM_WRITE_PROT,
    UC_MEM_WRITE_UNMAPPED,
    UC_MODE_MCLASS,
    UC_MODE_THUMB,
    UC_PROT_ALL,
    UC_PROT_NONE,
)

from ..faults import BusFault

# unicorn re-exports these without declaring them, and its methods carry no types: use them as Any
Uc: Any = vars(unicorn)["Uc"]
UcError: type[Exception] = vars(unicorn)["UcError"]

if TYPE_CHECKING:
    from .core import CortexM

PAGE = 0x1000
NS_PER_S = 1_000_000_000
POLL_WINDOW = 512  # cycles: iterations further apart than this are not treated as a polling loop
_HISTORY_LIMIT = 4096
_SPIN = b"\xfe\xe7"  # b .
# unicorn interrupt numbers (QEMU EXCP_*) that stand for a fault, and the CFSR bit they set
_FAULT_INTR = {1: "UNDEFINSTR", 3: "IBUSERR", 4: "PRECISERR", 17: "NOCP", 18: "INVSTATE",
               22: "UNALIGNED", 23: "DIVBYZERO"}
INTR_BKPT, INTR_SVC, INTR_EXC_RETURN = 7, 2, 8


@dataclass
class RunResult:
    reason: str  # budget, work, spin, poll, bkpt, breakpoint, wfi, step, svc, exc_return, fault, reset
    cycles: int  # cycles of code executed
    end_ns: int  # the core's time when it stopped
    fault: str = ""  # CFSR bit name for reason "fault"
    address: int | None = None  # faulting address, when known


class _Stop(Exception):
    pass


class Engine:
    """A unicorn instance for one core; rebuilt when the chip's memory layout changes."""

    def __init__(self, core: CortexM, signature: tuple[Any, ...]) -> None:
        self.core = core
        self.sim = core.sim
        self.signature = signature
        uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(core.profile.unicorn_model)
        self.uc = uc
        self._views: list[Any] = []  # ctypes views keeping the chip's buffers pinned
        self._flash_maps: list[tuple[int, int]] = []
        self._flash_perms = -1
        self._map_memory()
        uc.hook_add(UC_HOOK_BLOCK, self._on_block)
        uc.hook_add(UC_HOOK_INTR, self._on_intr)
        uc.hook_add(UC_HOOK_INSN_INVALID, self._on_invalid)
        uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
        uc.hook_add(UC_HOOK_MEM_PROT, self._on_prot)
        for start, size in self._flash_maps:
            uc.hook_add(UC_HOOK_MEM_WRITE, self._on_flash_write, begin=start, end=start + size - 1)
            uc.hook_add(UC_HOOK_MEM_READ, self._on_flash_read, begin=start, end=start + size - 1)
        self.pristine = uc.context_save()
        self._reset_run(0, 0)

    # -- memory map -------------------------------------------------------------------------------
    def _map_ptr(self, start: int, data: bytearray, offset: int, size: int, perms: int) -> None:
        view = (ctypes.c_char * size).from_buffer(data, offset)
        self._views.append(view)
        self.uc.mem_map_ptr(start, size, perms, ctypes.addressof(view))

    def _map_mmio(self, page: int) -> None:
        self.uc.mmio_map(page, PAGE, self._mmio_read, page, self._mmio_write, page)

    def _map_memory(self) -> None:
        memory = self.core.memory
        for ram in memory.ram_regions():
            whole = ram.size & ~(PAGE - 1)
            if whole:
                self._map_ptr(ram.start, ram.data, 0, whole, UC_PROT_ALL)
            if ram.size != whole:
                self._map_mmio(ram.start + whole)  # the partial last page goes through the bus
        span = memory.flash_span()
        for bank in self.sim.banks:
            whole = bank.size & ~(PAGE - 1)
            starts = [bank.base]
            for alias, size, real in memory.aliases():
                if span is not None and real == span[0] and size == span[1]:
                    starts.append(alias + bank.base - real)
            for start in starts:
                self._map_ptr(start, bank.data, 0, whole, UC_PROT_ALL)
                self._flash_maps.append((start, whole))
                if bank.size != whole:
                    self._map_mmio(start + whole)

    def set_flash_access(self, readable: bool) -> None:
        """Read protection with a debugger attached blocks every flash access, fetches included."""
        perms = UC_PROT_ALL if readable else UC_PROT_NONE
        if perms != self._flash_perms:
            for start, size in self._flash_maps:
                self.uc.mem_protect(start, size, perms)
            self._flash_perms = perms

    # -- one run --------------------------------------------------------------------------------------
    def _reset_run(self, t0: int, t_end: int) -> None:
        self.t0 = t0
        self.t_end = t_end
        self.cycles = 0
        self.stall = 0
        self.limit = 0
        self.time_limit = 0
        self.work_cap = 0
        self.block = 0
        self.entries = 0  # blocks entered in this run
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self.fixups: list[tuple[bytearray, int, bytes]] = []
        self.history: list[tuple[str, int, int, int]] = []
        self.seen: dict[tuple[int, int], tuple[int, int, int, tuple[Any, ...] | None, int]] = {}

    def now(self) -> int:
        return self.t0 + self.cycles * NS_PER_S // self.core.hz + self.stall

    def _update_limit(self) -> None:
        left = self.t_end - self.t0 - self.stall
        self.time_limit = max(0, left) * self.core.hz // NS_PER_S
        self.limit = min(self.time_limit, self.work_cap)

    def run(self, pc: int, t0: int, t_end: int, *, step: bool = False, work_cap: int) -> RunResult:
        """Execute from ``pc`` (Thumb) from time ``t0`` until ``t_end`` or a stop."""
        self._reset_run(t0, t_end)
        self.work_cap = work_cap
        self._update_limit()
        if step:  # one instruction, whatever its block's size
            self.limit = self.time_limit = self.work_cap = 1 << 62
        uc: Any = self.uc
        uc.ctl_flush_tb()  # the probe may have rewritten code in RAM or flash since the last run
        self.core.memory.begin_run()
        hooks = [uc.hook_add(UC_HOOK_CODE, self._on_breakpoint, begin=a, end=a)
                 for a in self.core.debug.fpb.breakpoints()]
        try:
            uc.emu_start(pc | 1, 0xFFFF_FFFF, count=1 if step else 0)
        except UcError:
            if self.result is None:  # a CPU exception unicorn does not report through a hook
                self.result = RunResult("fault", self.cycles, self.now(), "UNDEFINSTR")
        finally:
            for h in hooks:
                uc.hook_del(h)
            self._apply_fixups()
        if self.error is not None:
            raise self.error
        if self.result is None:
            self.result = RunResult("step" if step else "wfi", self.cycles, self.now())
        if step:
            self.result.cycles = min(self.result.cycles, 1 if self.result.reason == "step" else 0)
            self.cycles = self.result.cycles
            self.result.end_ns = self.now()
        return self.result

    def _stop(self, reason: str, fault: str = "", address: int | None = None, *, end: int | None = None) -> None:
        if self.result is None:
            self.result = RunResult(reason, self.cycles, self.now() if end is None else end, fault, address)
        self.uc.emu_stop()

    # -- hooks --------------------------------------------------------------------------------------
    def _guard(self, exc: BaseException) -> None:
        """An exception inside a hook ends the run and is raised again after it."""
        if self.error is None:
            self.error = exc
        self.uc.emu_stop()

    def _on_block(self, uc: Any, address: int, size: int, _data: Any) -> None:
        try:
            if self.fixups:
                self._apply_fixups()
            self.block = address
            self.entries += 1
            cost = max(1, size >> 1)
            if self.cycles + cost > self.limit:
                self._stop("budget" if self.time_limit <= self.work_cap else "work")
                return
            self.cycles += cost
            if size == 2 and bytes(uc.mem_read(address, 2)) == _SPIN:
                self._stop("spin")
        except Exception as exc:  # pragma: no cover - reported after the run
            self._guard(exc)

    def _on_intr(self, uc: Any, intno: int, _data: Any) -> None:
        if intno == INTR_BKPT:
            self._stop("bkpt")
        elif intno == INTR_SVC:
            self._stop("svc")
        elif intno == INTR_EXC_RETURN:
            self._stop("exc_return")
        else:
            self._stop("fault", _FAULT_INTR.get(intno, "UNDEFINSTR"))

    def _on_invalid(self, uc: Any, _data: Any) -> bool:
        self._stop("fault", "UNDEFINSTR")
        return False

    def _on_breakpoint(self, uc: Any, address: int, size: int, _data: Any) -> None:
        self._stop("breakpoint")

    def _on_unmapped(self, uc: Any, access: int, address: int, size: int, value: int, _data: Any) -> bool:
        try:
            if access != UC_MEM_FETCH_UNMAPPED and self.core.memory.answers(address):
                self._map_mmio(address & ~(PAGE - 1))
                return True
        except Exception as exc:  # pragma: no cover
            self._guard(exc)
            return False
        if access == UC_MEM_FETCH_UNMAPPED:
            self._stop("fault", "IBUSERR")
        elif access == UC_MEM_WRITE_UNMAPPED:
            self._stop("fault", "IMPRECISERR")  # stores are buffered: no address (BFAR) for them
        else:
            self._stop("fault", "PRECISERR", address)
        return False

    def _on_prot(self, uc: Any, access: int, address: int, size: int, value: int, _data: Any) -> bool:
        if access == UC_MEM_FETCH_PROT:
            self._stop("fault", "IBUSERR")
        else:
            write = access == UC_MEM_WRITE_PROT
            self._stop("fault", "IMPRECISERR" if write else "PRECISERR", None if write else address)
        return False

    # -- bus accesses ---------------------------------------------------------------------------
    def _begin(self) -> int:
        return self.sim.clock.advance_to(self.now())

    def _end(self, started: int) -> None:
        waited = self.sim.clock.now - started
        if waited > 0:  # the access stalled (a busy flash controller): the core waited with it
            self.stall += waited
            self._update_limit()

    def _mmio_read(self, uc: Any, offset: int, size: int, base: int) -> int:
        address = base + offset
        try:
            started = self._begin()
            try:
                value = self.core.memory.read(address, size)
            except BusFault:
                self._stop("fault", "PRECISERR", address)
                value = 0
            self._end(started)
            self._poll(address, value)
            return value
        except Exception as exc:  # pragma: no cover
            self._guard(exc)
            return 0

    def _mmio_write(self, uc: Any, offset: int, size: int, value: int, base: int) -> None:
        address = base + offset
        try:
            started = self._begin()
            try:
                self.core.memory.write(address, size, value)
            except BusFault:
                self._stop("fault", "IMPRECISERR", address)
            self._end(started)
            self._note_write(address, value)
        except Exception as exc:  # pragma: no cover
            self._guard(exc)

    def _on_flash_write(self, uc: Any, access: int, address: int, size: int, value: int, _data: Any) -> None:
        try:
            self._apply_fixups()
            real = self.core.memory.resolve(address)
            bank = self.sim.bank_at(real)
            if bank is None:
                return
            started = self._begin()
            try:
                self.sim.bus.write(real, size, value, "cpu")
            except BusFault:
                self._stop("fault", "IMPRECISERR", real)
            self._end(started)
            offset = real - bank.base
            # unicorn stores ``value`` into the mapped cells after this hook: put the controller's
            # result back before the next block, access or the end of the run
            self.fixups.append((bank.data, offset, bytes(bank.data[offset : offset + size])))
            self._note_write(real, value)
        except Exception as exc:  # pragma: no cover
            self._guard(exc)

    def _on_flash_read(self, uc: Any, access: int, address: int, size: int, value: int, _data: Any) -> None:
        try:
            if self.fixups:
                self._apply_fixups()
            ctl = self.sim.controller
            if ctl is None:
                return
            real = self.core.memory.resolve(address)
            timer = ctl.timer_for(real)
            if timer is not None and timer.busy:
                started = self._begin()
                ctl.check_read(real, size, "cpu")
                self._end(started)
        except BusFault:
            self._stop("fault", "PRECISERR", address)
        except Exception as exc:  # pragma: no cover
            self._guard(exc)

    def _apply_fixups(self) -> None:
        for data, offset, cells in self.fixups:
            data[offset : offset + len(cells)] = cells
        self.fixups.clear()

    def _note_write(self, address: int, value: int) -> None:
        self.history.append(("W", self.block, address, value))
        if self.sim._pending_reset is not None or self.core.reset_pending:
            self._stop("reset")

    # -- waiting loops ------------------------------------------------------------------------------
    def _poll(self, address: int, value: int) -> None:
        """Two identical iterations in a row (same reads, same values, same writes) make a
        polling loop: nothing it reads can change before the next scheduled event."""
        history = self.history
        if len(history) > _HISTORY_LIMIT:
            history.clear()
            self.seen.clear()
        key = (self.block, address)
        index = len(history)
        history.append(("R", self.block, address, value))
        prev = self.seen.get(key)
        signature: tuple[Any, ...] | None = None
        if prev is not None:
            p_index, p_entry, p_cycles, p_signature, p_value = prev
            signature = tuple(history[p_index + 1 : index])
            if p_entry == self.entries:
                signature = None  # the same block read it again: straight-line code, not a loop
            elif p_value == value and p_signature == signature and self.cycles - p_cycles <= POLL_WINDOW:
                self.seen.clear()
                self._wait_for_event()
                return
        self.seen[key] = (index, self.entries, self.cycles, signature, value)

    def _wait_for_event(self) -> None:
        event = self.core.next_event()
        local = self.now()
        if event is not None and event <= self.t_end:
            if event > local:
                self.stall += event - local
                self._update_limit()
            self.sim.clock.advance_to(event)
            return
        self._stop("poll", end=max(local, self.t_end))
