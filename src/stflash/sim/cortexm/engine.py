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

A third kind is shortened without changing anything anyone can observe: an idle loop in memory
(a loader waiting in RAM for the debugger's next buffer). When a block is entered again with the
whole CPU state (unicorn's saved context) equal to the previous entry, and the iteration between
them stored nothing and read nothing but RAM (no peripheral, flash or core register; only an
external master changes RAM, and none acts while the core runs; nor does an asynchronous exception
arrive, which this model has none of), every further iteration is the same: the run charges the
cycles of all but the last iterations that fit at once and executes those last ones for real, so
it stops where, when and in the state the full loop would have. ``IDLE_SKIP = False`` or
``STFLASH_SIM_EXACT=1`` executes every iteration.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable
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

from ..clock import exact
from ..faults import BusFault

# unicorn re-exports these without declaring them, and its methods carry no types: use them as Any
Uc: Any = vars(unicorn)["Uc"]
UcError: type[Exception] = vars(unicorn)["UcError"]
# The ctypes function types of unicorn 2.1's binding, to register the hottest hooks (one call per
# block, per store to flash) straight with the C library, without the binding's two Python frames
# per call; with another binding they are missing and the public hook_add is used.
_BINDING = sys.modules.get(getattr(Uc, "__module__", ""))
_CFUNC: dict[int, Any] = {
    htype: getattr(_BINDING, name) for htype, name in (
        (UC_HOOK_BLOCK, "HOOK_CODE_CFUNC"), (UC_HOOK_MEM_WRITE, "HOOK_MEM_ACCESS_CFUNC"),
        (UC_HOOK_MEM_READ, "HOOK_MEM_ACCESS_CFUNC"))
    if hasattr(_BINDING, name)
}

if TYPE_CHECKING:
    from ..bus import Region
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
IDLE_SKIP = True  # shorten idle loops in memory (see the module docstring)
IDLE_LOOP_BLOCKS = 16  # blocks in one iteration of a loop that can be recognised as idle
_IDLE_BACKOFF_MAX = 1024  # entries a block that failed the idle test waits before the next test


@dataclass
class RunResult:
    reason: str  # budget, work, spin, poll, bkpt, breakpoint, wfi, step, svc, exc_return, fault, reset
    cycles: int  # cycles of code executed
    end_ns: int  # the core's time when it stopped
    fault: str = ""  # CFSR bit name for reason "fault"
    address: int | None = None  # faulting address, when known


class _Stop(Exception):
    pass


def _context(uc: Any) -> bytes:
    """The whole CPU state (registers, flags, FPU, special registers) as bytes to compare; empty
    when the layout is not the expected one (then nothing compares equal and nothing is skipped).
    unicorn's saved context starts with a header (its data size first, then bookkeeping such as
    pointers that change between saves): only the data after it is the CPU's."""
    saved = uc.context_save()
    raw = ctypes.string_at(saved.context, saved.size)
    header = len(raw) - int.from_bytes(raw[:8], "little")
    if not 8 <= header <= 256:
        return b""
    return raw[header:]


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
        self._mapped: list[tuple[int, int, bytearray, int]] = []  # start, end, buffer, its offset there
        self._flash_maps: list[tuple[int, int]] = []
        self._flash_banks: list[Any] = []  # the bank behind each of _flash_maps
        self._store_regions: dict[int, Region | None] = {}  # page -> the region answering all of it (per run)
        self._plain: dict[tuple[int, int], tuple[Region, int] | None] = {}  # memory.plain (per run)
        self._flash_perms = -1
        self._map_memory()
        self._hook(UC_HOOK_BLOCK, self._on_block)
        uc.hook_add(UC_HOOK_INTR, self._on_intr)
        uc.hook_add(UC_HOOK_INSN_INVALID, self._on_invalid)
        uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
        uc.hook_add(UC_HOOK_MEM_PROT, self._on_prot)
        for (start, size), bank in zip(self._flash_maps, self._flash_banks, strict=True):
            # the real address is bank.base + address - start; bank.data is what is mapped there (an
            # engine is rebuilt when a bank's buffer changes)
            window = (start, bank.base, bank.data)
            end = start + size - 1
            self._hook(UC_HOOK_MEM_WRITE, functools.partial(self._on_flash_write, window), start, end)
            self._hook(UC_HOOK_MEM_READ, functools.partial(self._on_flash_read, window), start, end)
        self.pristine = uc.context_save()
        self._reset_run(0, 0)

    def _hook(self, htype: int, callback: Callable[..., Any], begin: int = 1, end: int = 0) -> int:
        """Add a hook whose callback ignores its first argument (the Uc object, or unicorn's
        handle when registered directly) and its last (user data, or unicorn's key), and catches
        every exception itself (``_guard``): registered directly with the C library when the
        binding allows it, else through ``hook_add``."""
        add = getattr(self.uc, "_Uc__do_hook_add", None)
        functype = _CFUNC.get(htype)
        if add is None or functype is None:
            return int(self.uc.hook_add(htype, callback, None, begin, end))
        return int(add(htype, ctypes.cast(functype(callback), functype), begin, end))

    # -- memory map -------------------------------------------------------------------------------
    def _map_ptr(self, start: int, data: bytearray, offset: int, size: int, perms: int) -> None:
        view = (ctypes.c_char * size).from_buffer(data, offset)
        self._views.append(view)
        self._mapped.append((start, start + size, data, offset - start))
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
                self._flash_banks.append(bank)
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
        self.hz = self.core.hz
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
        self.seen: dict[tuple[int, int], tuple[int, int, int, tuple[Any, ...] | None, int, bytes]] = {}
        # idle loops: ``effects`` counts everything that disqualifies an iteration (an access to
        # anything but RAM, a store); ``visits`` holds each block's last (effects, entries)
        self.effects = 0
        self.block_effects = -1  # effects at the last block entry
        self.visits: dict[int, tuple[int, int]] = {}
        self.probe: tuple[int, int, int, int, bytes] | None = None  # head, effects, entries, cycles, context
        self.store_hook: Any = None
        self.backoff: dict[int, tuple[int, int]] = {}  # block -> (entries it waits for, wait)
        self.idle_skip = False

    def now(self) -> int:
        return self.t0 + self.cycles * NS_PER_S // self.hz + self.stall

    def _update_limit(self) -> None:
        left = self.t_end - self.t0 - self.stall
        self.time_limit = max(0, left) * self.hz // NS_PER_S
        self.limit = min(self.time_limit, self.work_cap)

    def run(self, pc: int, t0: int, t_end: int, *, step: bool = False, work_cap: int) -> RunResult:
        """Execute from ``pc`` (Thumb) from time ``t0`` until ``t_end`` or a stop."""
        self._reset_run(t0, t_end)
        self.work_cap = work_cap
        self._update_limit()
        self.idle_skip = IDLE_SKIP and not step and not exact()
        if step:  # one instruction, whatever its block's size
            self.limit = self.time_limit = self.work_cap = 1 << 62
        uc: Any = self.uc
        uc.ctl_flush_tb()  # the probe may have rewritten code in RAM or flash since the last run
        self.core.memory.begin_run()
        self._store_regions.clear()  # the bus map may have changed since the last run
        self._plain.clear()
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
            self._end_probe()
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

    def _on_block(self, _uc: Any, address: int, size: int, _data: Any) -> None:
        # the hottest code of the simulator (once per block executed): kept flat on purpose
        uc = self.uc
        try:
            fixups = self.fixups
            if fixups:
                for cells, offset, old in fixups:
                    cells[offset : offset + len(old)] = old
                fixups.clear()
            self.block = address
            entries = self.entries = self.entries + 1
            if self.idle_skip:
                effects = self.effects
                if self.probe is not None:
                    self._idle(uc, address)
                elif effects == self.block_effects:
                    # nothing but RAM read since the last block entry (else this entry cannot start
                    # an iteration without effect, and the next one is compared with an older visit)
                    seen = self.visits.get(address)
                    if seen is not None and seen[0] == effects and entries - seen[1] <= IDLE_LOOP_BLOCKS:
                        self._start_probe(uc, address)
                    self.visits[address] = (effects, entries)
                self.block_effects = effects
            cycles = self.cycles + (size >> 1 or 1)
            if cycles > self.limit:
                self._stop("budget" if self.time_limit <= self.work_cap else "work")
                return
            self.cycles = cycles
            if size == 2 and self._code(address) == _SPIN:
                self._stop("spin")
        except BaseException as exc:  # pragma: no cover - reported after the run
            self._guard(exc)

    def _code(self, address: int) -> bytes:
        """The halfword of code at ``address``, from the buffer mapped there when there is one
        (what unicorn executes; cheaper than asking unicorn)."""
        for start, end, data, shift in self._mapped:
            if start <= address < end - 1:
                return bytes(data[address + shift:address + shift + 2])
        return bytes(self.uc.mem_read(address, 2))

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

    def _target(self, address: int, size: int) -> tuple[Region, int] | None:
        """``memory.plain`` cached for the run (a loader polls the same status register and kicks
        the same watchdog register once per flash word)."""
        key = (address, size)
        try:
            return self._plain[key]
        except KeyError:
            found = self._plain[key] = self.core.memory.plain(address, size)
            return found

    def _mmio_read(self, uc: Any, offset: int, size: int, base: int) -> int:
        address = base + offset
        self.effects += 1
        try:
            started = self._begin()
            try:
                target = self._target(address, size)
                if target is None:
                    value = self.core.memory.read(address, size)
                else:
                    value = target[0].read(target[1], size, "cpu")
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
        self.effects += 1
        try:
            started = self._begin()
            try:
                target = self._target(address, size)
                if target is None:
                    self.core.memory.write(address, size, value)
                else:
                    target[0].write(target[1], size, value & ((1 << (8 * size)) - 1), "cpu")
            except BusFault:
                self._stop("fault", "IMPRECISERR", address)
            self._end(started)
            self._note_write(address, value)
        except Exception as exc:  # pragma: no cover
            self._guard(exc)

    def _on_flash_write(self, window: tuple[int, int, bytearray], _uc: Any, access: int, address: int,
                        size: int, value: int, _data: Any) -> None:
        # once per store to flash (a loader's copy loop): flat on purpose, like _on_block
        try:
            self.effects += 1
            if self.fixups:
                self._apply_fixups()
            start, base, cells = window
            offset = address - start
            real = base + offset  # what memory.resolve gives: the engine was built for this map
            clock = self.sim.clock
            started = clock.advance_to(self.t0 + self.cycles * NS_PER_S // self.hz + self.stall)
            try:
                # sim.bus.write(real, size, value, "cpu") without searching the bus map at every
                # store: a page one region answers whole is answered by it at any address inside
                # (Bus.find checks the regions above it first)
                page = real & ~(PAGE - 1)
                try:
                    region = self._store_regions[page]
                except KeyError:
                    region = self._store_regions[page] = self.sim.bus.find(page, PAGE)
                if region is None or size not in (1, 2, 4) or (real % size and not region.unaligned_ok):
                    self.sim.bus.write(real, size, value, "cpu")  # composed, refused or odd: the bus decides
                else:
                    region.write(real, size, value & ((1 << (8 * size)) - 1), "cpu")
            except BusFault:
                self._stop("fault", "IMPRECISERR", real)
            waited = clock.now - started
            if waited > 0:
                self.stall += waited
                self._update_limit()
            # unicorn stores ``value`` into the mapped cells after this hook: put the controller's
            # result back before the next block, access or the end of the run
            self.fixups.append((cells, offset, bytes(cells[offset : offset + size])))
            self.history.append(("W", self.block, real, value))
            if self.sim._pending_reset is not None or self.core.reset_pending:
                self._stop("reset")
        except BaseException as exc:  # pragma: no cover
            self._guard(exc)

    def _on_flash_read(self, window: tuple[int, int, bytearray], _uc: Any, access: int, address: int,
                       size: int, value: int, _data: Any) -> None:
        try:
            self.effects += 1  # flash is not RAM: what it reads may change with the controller's work
            if self.fixups:
                self._apply_fixups()
            ctl = self.sim.controller
            if ctl is None:
                return
            start, base, _ = window
            real = base + address - start
            timer = ctl.timer_for(real)
            if timer is not None and timer.busy:
                started = self._begin()
                ctl.check_read(real, size, "cpu")
                self._end(started)
        except BusFault:
            self._stop("fault", "PRECISERR", address)
        except BaseException as exc:  # pragma: no cover
            self._guard(exc)

    def _apply_fixups(self) -> None:
        for data, offset, cells in self.fixups:
            data[offset : offset + len(cells)] = cells
        self.fixups.clear()

    def _note_write(self, address: int, value: int) -> None:
        self.history.append(("W", self.block, address, value))
        if self.sim._pending_reset is not None or self.core.reset_pending:
            self._stop("reset")

    # -- idle loops in memory ----------------------------------------------------------------------
    def _start_probe(self, uc: Any, address: int) -> None:
        """Block ``address`` is entered again with nothing but RAM read since its last entry:
        watch one more iteration, in which any store counts as an effect."""
        wait = self.backoff.get(address)
        if wait is None or self.entries >= wait[0]:
            self.store_hook = uc.hook_add(UC_HOOK_MEM_WRITE, self._on_store)
            self.probe = (address, self.effects, self.entries, self.cycles, _context(uc))

    def _idle(self, uc: Any, address: int) -> None:
        """A block entered while an iteration is watched: back at its head with no effect and the
        same CPU state, the loop has reached a fixed point and its iterations are skipped."""
        assert self.probe is not None
        head, p_effects, p_entries, p_cycles, context = self.probe
        if address == head:
            self._end_probe()
            if p_effects == self.effects and context and _context(uc) == context:
                self._skip_idle(self.cycles - p_cycles, self.entries - p_entries)
            else:
                self._back_off(address)
        elif p_effects != self.effects or self.entries - p_entries > IDLE_LOOP_BLOCKS:
            self._end_probe()
            self._back_off(head)
        self.visits[address] = (self.effects, self.entries)

    def _on_store(self, uc: Any, access: int, address: int, size: int, value: int, _data: Any) -> None:
        self.effects += 1

    def _end_probe(self) -> None:
        if self.store_hook is not None:
            self.uc.hook_del(self.store_hook)
            self.store_hook = None
        self.probe = None

    def _back_off(self, address: int) -> None:
        """A block that is not an idle loop's head is tested again after a growing pause, so a
        counting loop pays for a few tests, not one per iteration."""
        _, wait = self.backoff.get(address, (0, 0))
        wait = min(_IDLE_BACKOFF_MAX, max(1, 2 * wait))
        self.backoff[address] = (self.entries + wait, wait)

    def _skip_idle(self, cycles: int, blocks: int) -> None:
        """The loop costs ``cycles`` per iteration (``blocks`` block entries); charge every
        iteration that fits in the run but the last one or two, which execute for real and stop
        the run exactly where the whole loop would have. Nothing else moves: the iterations have no
        effect, and the limit changes only with a stall, which needs an access."""
        if cycles <= 0:
            return
        skipped = (self.limit - self.cycles) // cycles - 1
        if skipped > 0:
            self.cycles += skipped * cycles
            self.entries += skipped * blocks

    # -- waiting loops ------------------------------------------------------------------------------
    def _poll(self, address: int, value: int) -> None:
        """Two identical iterations in a row (same reads, same values, same writes, and the same
        core registers at the read) make a polling loop: nothing it reads can change before the
        next scheduled event. The registers tell a loop that only waits from one that works
        between its status reads (a CRC over flash that looks at a USART now and then moves its
        address register on: skipping its iterations would skip the work)."""
        history = self.history
        if len(history) > _HISTORY_LIMIT:
            history.clear()
            self.seen.clear()
        key = (self.block, address)
        index = len(history)
        history.append(("R", self.block, address, value))
        prev = self.seen.get(key)
        signature: tuple[Any, ...] | None = None
        registers = self._registers()
        if prev is not None:
            p_index, p_entry, p_cycles, p_signature, p_value, p_registers = prev
            signature = tuple(history[p_index + 1 : index])
            if p_entry == self.entries:
                signature = None  # the same block read it again: straight-line code, not a loop
            elif (p_value == value and p_signature == signature and p_registers == registers
                  and self.cycles - p_cycles <= POLL_WINDOW):
                self.seen.clear()
                self._wait_for_event()
                return
        self.seen[key] = (index, self.entries, self.cycles, signature, value, registers)

    def _registers(self) -> bytes:
        return _context(self.uc)  # (the binding's register reads cost ten times more)

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
