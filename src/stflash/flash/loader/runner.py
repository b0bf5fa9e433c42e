"""The host side of stflash's flash loader: put it in the target's RAM, stream data through its
buffers while it programs (erasing each sector right before its data when asked), and have it
sum flash ranges with CRC32 or check them blank.

The driver has unlocked the controller and set its program mode; the loader runs the driver's
steps (:class:`~stflash.flash.debug.FlashStep`) and then stores, polls and checks, as
:class:`~stflash.flash.debug.ProgramSetup` describes. While the core erases a sector or programs
one buffer the probe fills the others, so a write costs about the flash's own time. The host does
not spin: it reads one progress word, works out from it how long the queued work takes, and waits
that long on the host's clock (never longer than the work already queued behind it lasts).

Anything that stops the loader from running at all raises :class:`LoaderUnavailable` before a
byte is programmed or erased, so the caller can use the register path instead.
"""

from __future__ import annotations

import bisect
import importlib.resources
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...chips.model import Chip, Region
from ...errors import OperationTimeoutError, StflashError
from ..debug import MSP, PC, R0, XPSR, DebugAccess, FlashStep, ProgramSetup
from . import facts
from .errors import (
    FlashProgramError,
    FlashProtectedError,
    LoaderFault,
    LoaderUnavailable,
    Span,
    attach_written,
)
from .layout import (
    BLANK_FLAG,
    CB_BUSY,
    CB_CMD,
    CB_COUNT,
    CB_DONE,
    CB_ERASED,
    CB_ERRMASK,
    CB_FAIL_ADDR,
    CB_FAIL_SR,
    CB_FIRST,
    CB_INDEX,
    CB_KICK,
    CB_LAST,
    CB_LIST,
    CB_NFIRST,
    CB_NLAST,
    CB_SEQ0,
    CB_SLOT0,
    CB_SLOTEND,
    CB_SR,
    CB_STATUS,
    CB_STRIDE,
    CB_TABLE,
    CB_UNIT,
    CB_WIDTH,
    CMD_CHECK,
    CMD_PROGRAM,
    CONTROL_SIZE,
    COUNT_MASK,
    CRC_ENTRY_SIZE,
    CRC_TABLE_SIZE,
    DONE_FAILED,
    DONE_NOT_STARTED,
    DONE_STOPPED,
    ST_BAD_COMMAND,
    ST_FLASH_ERROR,
    ST_STEP_ERROR,
    STEP_SIZE,
    STEP_STORE,
    STEP_WAIT,
    Layout,
    plan_layout,
)

__all__ = ["FlashLoader", "FlashProgramError", "FlashProtectedError", "LoaderFault", "LoaderUnavailable",
           "Progress", "StepFailure", "loader_code"]

Progress = Callable[[int, int], None]  # (bytes programmed, bytes in the call)
StepFailure = Callable[[FlashStep, int], StflashError]  # (the wait that saw error flags, the word read)

# architectural debug registers (ARMv6-M/ARMv7-M ARM)
DHCSR, CCR, MPU_TYPE, MPU_CTRL = 0xE000_EDF0, 0xE000_ED14, 0xE000_ED90, 0xE000_ED94
S_HALT, S_LOCKUP = 1 << 17, 1 << 19
CCR_DC, CCR_IC = 1 << 16, 1 << 17  # Cortex-M7 caches: the probe writes RAM behind the D-cache
SPECIAL = 0x14  # DCRSR REGSEL of CONTROL/FAULTMASK/BASEPRI/PRIMASK
XPSR_T = 1 << 24
STOPPED, NOT_STARTED, FAILED = 1 << DONE_STOPPED, 1 << DONE_NOT_STARTED, 1 << DONE_FAILED
NOT_STARTED_STATUS = 0xFFFF_FFFF  # CB_STATUS as the host leaves it; the loader's first store replaces it

# pacing (host clock): pause as long as the queued work takes at the pace seen so far (never
# faster than the datasheet's typical times), but never longer than half of the work queued behind
# what is awaited, so a late look never leaves the loader without data
MIN_PAUSE = 100e-6
PACE_LIMIT = 4  # a unit never takes longer than this many typical times (datasheet maxima: ~2x)
STALL_LIMIT = 1.0  # no progress this long (or 100 units) beyond the steps' maxima: give up
START_TRIES = 3
CRC_CYCLES_PER_BYTE = 7  # ARMv6-M timing of the 16-byte loop (loads 2 cycles)
BLANK_CYCLES_PER_BYTE = 2  # the word compare loop
CRC_TABLE_CYCLES = 12_000
_SEQUENCES = random.SystemRandom()
FIRST_CHUNK_FRACTION = 8  # the first chunk is this fraction of a buffer, each next one twice the last
STEP_FIRST_LOOK = 20e-3  # first look at a loader busy with steps (an erase) that may have begun earlier
MIN_FIRST_CHUNK = 1024  # but no shorter: a chunk costs the probe's round trips whatever its size


def loader_code() -> bytes:
    """The assembled loader (``loader.bin``, rebuilt from ``loader.S`` by ``build.py``)."""
    return importlib.resources.files(__package__).joinpath("loader.bin").read_bytes()


@dataclass
class _Chunk:
    """One buffer's worth: ``data`` for ``dest`` (whole units), the steps to run first, and which
    caller segments its bytes belong to, in order: (segment index, bytes)."""

    dest: int
    data: bytearray
    steps: list[FlashStep]
    pieces: list[tuple[int, int]]

    @property
    def end(self) -> int:
        return self.dest + len(self.data)

    def steps_s(self, which: str = "typical") -> float:
        return sum((s.typical_s if which == "typical" else s.max_s) for s in self.steps if s.wait)


class FlashLoader:
    """One loader placement on one core. ``ram`` defaults to the chip's first RAM region (give
    another where that core cannot execute, e.g. the DTCM from the Cortex-M4 of an H745);
    ``buffers`` defaults to as many as the RAM holds (up to 8) of ``max_buffer`` bytes."""

    def __init__(
        self,
        access: DebugAccess,
        chip: Chip,
        *,
        ram: Region | None = None,
        buffers: int | None = None,
        max_buffer: int = 16 * 1024,
        watchdog: bool = True,
        unit_seconds: float | None = None,
    ) -> None:
        self.access = access
        self.chip = chip
        self.code = loader_code()
        region = ram if ram is not None else (chip.ram[0] if chip.ram else None)
        if region is None:
            raise LoaderUnavailable(f"{chip.name} has no RAM to run a flash loader from")
        layout = plan_layout(region, len(self.code), buffers=buffers, max_buffer=max_buffer)
        if layout is None:
            raise LoaderUnavailable(
                f"{region.size} bytes of {region.name} at {region.start:#010x} leave no room for the "
                f"flash loader's buffers")
        self.layout: Layout = layout
        self.kick = facts.watchdog_key_register(chip) if watchdog else 0
        self.unit_seconds = unit_seconds if unit_seconds is not None else facts.unit_seconds(chip)
        self._pace = self.unit_seconds  # seconds per unit seen in the current run
        self.loaded = False
        self._primed = False  # R0, MSP, xPSR and the special registers are the loader's (PC aside)
        self._seq0 = 0

    # -- placing and starting ---------------------------------------------------------------------
    def load(self, *, halted: bool = False) -> None:
        """Halt the core (``halted``: the caller has just seen it halted) and put the loader in
        RAM (checked by reading it back)."""
        a = self.access
        if not halted and not a.is_halted():
            a.halt()
            if not a.is_halted():
                raise LoaderUnavailable("the core does not halt, so it cannot run the flash loader",
                                        hint="connect under reset")
        self._quiet_core()
        a.write_block(self.layout.code, self.code)
        if a.read_block(self.layout.code, len(self.code)) != self.code:
            raise LoaderUnavailable(f"the RAM at {self.layout.code:#010x} does not keep the flash loader")
        self.loaded = True
        self._primed = False

    def forget(self) -> None:
        """The firmware ran (a reset): the RAM and the core's registers are no longer the loader's."""
        self.loaded = False
        self._primed = False

    def _quiet_core(self) -> None:
        """Caches off (the probe writes the buffers into RAM behind a Cortex-M7's D-cache) and no
        MPU (a firmware's execute-never SRAM would stop the loader). Reset leaves both off."""
        a = self.access
        ccr = a.read32(CCR)
        if ccr & (CCR_DC | CCR_IC):
            a.write32(CCR, ccr & ~(CCR_DC | CCR_IC))
        if a.read32(MPU_TYPE) >> 8 & 0xFF and a.read32(MPU_CTRL) & 1:
            a.write32(MPU_CTRL, 0)

    def _start(self, block: bytes) -> None:
        """Write the control block (and whatever follows it in ``block``), point the core at the
        loader and let it run. The code is put back whenever the core was not left halted in it:
        a reset, or anything else that ran in between, may have reused that RAM. After a run of
        its own the loader left R0, the stack and xPSR as it needs them: only PC is set again."""
        a, lay = self.access, self.layout
        halted = a.is_halted()
        if not self.loaded or not halted:
            self.load(halted=halted)
        a.write_block(lay.control, block)
        if not self._primed:
            a.write_core_register(R0, lay.control)
            a.write_core_register(SPECIAL, 0)  # thread mode on MSP, PRIMASK clear
            a.write_core_register(MSP, lay.stack_top)
            a.write_core_register(XPSR, XPSR_T)
        a.write_core_register(PC, lay.code)
        self._primed = False  # until the run is seen to end cleanly
        a.run(mask_interrupts=True)

    def _control_block(self, words: dict[int, int]) -> bytearray:
        block = bytearray(CONTROL_SIZE)
        for offset, value in words.items():
            struct.pack_into("<I", block, offset, value & 0xFFFF_FFFF)
        struct.pack_into("<I", block, CB_STATUS, NOT_STARTED_STATUS)
        struct.pack_into("<I", block, CB_DONE, NOT_STARTED)
        return block

    def _progress(self) -> int:
        """The loader's progress word: one 32-bit read (one probe round trip)."""
        return self.access.read32(self.layout.control + CB_DONE)

    def _control(self) -> list[int]:
        raw = self.access.read_block(self.layout.control, CONTROL_SIZE)
        return list(struct.unpack(f"<{CONTROL_SIZE // 4}I", raw))

    def _core_state(self) -> tuple[str, int]:
        """("halted" | "lockup" | "running", DHCSR)."""
        dhcsr = self.access.read32(DHCSR)
        if dhcsr & S_HALT:
            return "halted", dhcsr
        return ("lockup" if dhcsr & S_LOCKUP else "running"), dhcsr

    def _stopped(self, word: int, what: str) -> LoaderUnavailable:
        """The error for a loader that does not answer: halted, locked up or gone quiet."""
        state, dhcsr = self._core_state()
        if state != "halted":
            self.access.halt()
        pc = self.access.read_core_register(PC) if self.access.is_halted() else None
        where = f", PC {pc:#010x}" if pc is not None else ""
        if word & NOT_STARTED:
            return LoaderUnavailable(
                f"the core did not start the flash loader ({state}, DHCSR {dhcsr:#010x}{where})")
        return LoaderFault(f"the flash loader stopped during {what} ({state}, DHCSR {dhcsr:#010x}{where})")

    # -- programming ---------------------------------------------------------------------------
    def program(self, address: int, data: bytes, setup: ProgramSetup, progress: Progress | None = None) -> None:
        """Program ``data`` at ``address`` (padded to whole units with ``setup.erased``)."""
        self.program_segments([(address, data)], setup, progress)

    def program_segments(
        self,
        segments: Sequence[tuple[int, bytes]],
        setup: ProgramSetup,
        progress: Progress | None = None,
        *,
        steps: Sequence[tuple[int, Sequence[FlashStep]]] = (),
        begin: Sequence[FlashStep] = (),
        end: Sequence[FlashStep] = (),
        step_failure: StepFailure | None = None,
    ) -> None:
        """Program several ranges in one loader run (one ``setup``: on an H7 one bank). ``steps``
        pairs a flash address with steps the loader runs before it programs any byte at or
        beyond it (a sector's erase before its first byte); ``begin`` and ``end`` run first
        and last (the controller into and out of program mode, where the driver hands that to
        the loader); ``step_failure`` turns a wait that saw error flags into the caller's error.
        A failure names the address and the status flags; its ``written_upto`` counts the bytes
        of the failing segment known programmed, and ``written`` lists the (address, length)
        ranges that landed. That holds for a probe error in the middle of the run too: it counts
        what the loader had reported done when the progress word was last read."""
        self._check_setup(setup)
        parts, chunks = self._chunks(segments, setup, steps, len(begin) + len(end))
        if not chunks:
            return
        chunks[0].steps[:0] = begin
        lay = self.layout
        nbuf = len(lay.buffers)
        ends: list[int] = []
        for chunk in chunks:
            ends.append((ends[-1] if ends else 0) + len(chunk.data))
        total = ends[-1]
        pieces = [piece for chunk in chunks for piece in chunk.pieces]
        report = _Reporter(progress, total)
        run = _Run(chunks, ends, setup.unit, self)
        self._pace = self.unit_seconds
        # a descriptor left in RAM by an earlier run (or another loader) must not pass for one of
        # this run's: the run's sequence numbers start at a random point
        self._seq0 = _SEQUENCES.getrandbits(32)
        try:
            # the first chunk's steps (its sector's erase) ride with the control block and run at
            # once, while the probe sends the first chunk's data
            first = b"".join(_step_bytes(step) for step in [*chunks[0].steps, *end])
            slot0 = lay.descriptor(0)
            first_at = lay.first_steps
            block = self._control_block({
                CB_CMD: CMD_PROGRAM, CB_SR: setup.sr, CB_BUSY: setup.busy_mask, CB_ERRMASK: setup.error_mask,
                CB_WIDTH: setup.width, CB_UNIT: setup.unit, CB_KICK: self.kick, CB_COUNT: len(chunks),
                CB_SLOT0: slot0, CB_STRIDE: lay.slot_size, CB_SLOTEND: slot0 + nbuf * lay.slot_size,
                CB_FIRST: first_at, CB_NFIRST: len(chunks[0].steps),
                CB_LAST: first_at + STEP_SIZE * len(chunks[0].steps), CB_NLAST: len(end), CB_SEQ0: self._seq0,
            })
            run.last = list(end)
            if run.steps_typ[0]:  # an erase to start: the first data follows while it runs
                self._start(bytes(block) + first)
                self._write_chunk(0, 0, chunks[0], with_steps=False)
            else:  # the core would only wait for it
                self._write_chunk(0, 0, chunks[0], with_steps=False)
                self._start(bytes(block) + first)
            for k in range(1, len(chunks)):
                if k >= nbuf:
                    self._await(run, ends[k - nbuf], k, report, setup, step_failure)
                self._write_chunk(k % nbuf, k, chunks[k])
            self._await(run, total, len(chunks), report, setup, step_failure, final=True)
        except StflashError as exc:
            # the unit counted last may still be running: everything before it is programmed
            # (after a failed step every unit counted had been confirmed)
            exc.written_upto = report.done if run.step_failed else max(0, report.done - setup.unit)
            attach_written(exc, parts, pieces)
            raise

    def _check_setup(self, setup: ProgramSetup) -> None:
        if setup.width not in (1, 2, 4) or setup.unit < setup.width or setup.unit % setup.width:
            raise ValueError(f"store width {setup.width} and unit {setup.unit} do not fit together")
        if self.layout.buffer_size % setup.unit:
            raise ValueError(f"a {setup.unit}-byte unit does not divide the {self.layout.buffer_size}-byte buffers")

    def _chunks(self, segments: Sequence[tuple[int, bytes]], setup: ProgramSetup,
                steps: Sequence[tuple[int, Sequence[FlashStep]]], extra: int = 0) -> tuple[list[Span], list[_Chunk]]:
        """The stream: each segment padded to whole units, consecutive ones that meet in one
        chunk, each chunk at most one buffer (the first ones shorter); steps ride at the head of
        the chunk that starts at their address (chunks end there)."""
        parts: list[Span] = []
        chunks: list[_Chunk] = []
        size, unit, fill = self.layout.buffer_size, setup.unit, bytes([setup.erased])
        room = self.layout.step_room // STEP_SIZE
        # the first chunks are short and double in size up to a buffer: the core starts on the
        # first one while the probe is still sending the next, instead of waiting for a whole buffer
        first_size = min(size, max(MIN_FIRST_CHUNK, size // FIRST_CHUNK_FRACTION) // unit * unit)
        cap = size
        pending = sorted(((address, list(group)) for address, group in steps if group), key=lambda p: p[0])
        cur: _Chunk | None = None
        for index, (address, data) in enumerate(segments):
            front = address % unit
            body = fill * front + bytes(data)
            body += fill * (-len(body) % unit)
            parts.append(Span(address, len(data), front))
            if not data:
                continue
            start, pos = address - front, 0
            while pos < len(body):
                dest = start + pos
                due: list[FlashStep] = []
                while pending and pending[0][0] <= dest:
                    due += pending.pop(0)[1]
                if len(due) + (extra if not chunks else 0) > room:
                    raise ValueError(f"{len(due)} steps before {dest:#010x}: a buffer holds {room}")
                # a chunk ends where steps begin: a sector is programmed to its end before the next
                # one is erased, so a failure leaves whole sectors behind it
                if cur is None or cur.end != dest or len(cur.data) >= cap or (due and cur.data):
                    cur = _Chunk(dest, bytearray(), [], [])
                    chunks.append(cur)
                    cap = min(size, first_size << (len(chunks) - 1))
                cur.steps += due
                take = min(cap - len(cur.data), len(body) - pos)
                if pending and pending[0][0] < dest + take:
                    take = max(unit, (pending[0][0] - dest) // unit * unit)
                cur.data += body[pos : pos + take]
                if cur.pieces and cur.pieces[-1][0] == index:
                    cur.pieces[-1] = (index, cur.pieces[-1][1] + take)
                else:
                    cur.pieces.append((index, take))
                pos += take
        if pending and chunks:
            rest = [step for _, group in pending for step in group]
            if len(chunks[-1].steps) + len(rest) > room:
                raise ValueError(f"{len(rest)} steps after the last byte do not fit in a buffer")
            chunks[-1].steps += rest
        return parts, chunks

    def _write_chunk(self, slot: int, k: int, chunk: _Chunk, *, with_steps: bool = True) -> None:
        """Data, steps and descriptor of chunk ``k`` in one ascending write ending with its
        sequence number."""
        desc = self.layout.descriptor(slot)
        steps = b"".join(_step_bytes(step) for step in chunk.steps) if with_steps else b""
        steps_at = desc - len(steps)
        data_at = steps_at - len(chunk.data)
        descriptor = struct.pack("<IIIIII", steps_at, len(steps) // STEP_SIZE, data_at, len(chunk.data), chunk.dest,
                                 (self._seq0 + k + 1) & 0xFFFF_FFFF)
        self.access.write_block(data_at, bytes(chunk.data) + steps + descriptor)

    def _await(self, run: _Run, target: int, written: int, report: _Reporter, setup: ProgramSetup,
               step_failure: StepFailure | None, *, final: bool = False) -> None:
        """Wait until the loader has stored ``target`` bytes (``final``: until it has stopped,
        after ``target`` = all of them), ``written`` chunks being in its buffers."""
        last, quiet, pause, looks = -1, 0.0, 0.0, 0
        while True:
            word = self._progress()
            looks += 1
            done = word & COUNT_MASK
            report(done)
            if word & STOPPED:
                if word & FAILED:
                    raise self._failure(run, setup, step_failure)
                if final and done >= target:
                    self._primed = True
                    return
                raise self._stopped(word, "programming (it ended early)")
            if word & NOT_STARTED:
                if looks >= START_TRIES:
                    if self._core_state()[0] == "running":
                        self.access.halt()
                        raise LoaderUnavailable("the core runs but not the flash loader")
                    raise self._stopped(word, "programming")
                self.access.wait(MIN_PAUSE)
                continue
            if done >= target and not final:
                return
            quiet = quiet + pause if done == last else 0.0
            run.observe(done, last, pause)
            last = done
            if quiet >= run.allowance(done):
                if self._core_state()[0] != "running":
                    if self._progress() != word:
                        continue  # it moved on between the two looks
                    raise self._stopped(word, "programming")
                raise self._timeout(done)
            pause = run.pause(done, target, written, quiet)
            self.access.wait(pause)
            run.waited(pause)

    def _timeout(self, done: int) -> OperationTimeoutError:
        self.access.halt()
        return OperationTimeoutError(
            f"the flash loader made no progress for {STALL_LIMIT:.1f} s beyond its flash operations' "
            f"maximum after {done} bytes",
            hint="the flash controller stays busy; power-cycle the board and try again")

    def _failure(self, run: _Run, setup: ProgramSetup, step_failure: StepFailure | None) -> StflashError:
        words = self._control()
        status, address, sr = words[CB_STATUS // 4], words[CB_FAIL_ADDR // 4], words[CB_FAIL_SR // 4]
        self._primed = True  # it stopped on its own BKPT with its registers as it leaves them
        if status == ST_FLASH_ERROR:
            return self._flash_error(address, sr, setup)
        if status == ST_STEP_ERROR:
            run.step_failed = True
            step = run.step_at(words[CB_INDEX // 4], address, self.layout)
            if step is None:
                return LoaderFault(f"the flash loader reported a failed step at {address:#010x}")
            if step_failure is not None:
                return step_failure(step, sr)
            return StflashError(f"{step.doing} {step.subject} failed: flash status {sr:#010x}".strip())
        if status == ST_BAD_COMMAND:
            return LoaderFault("the flash loader did not know the command (not this loader's code)")
        return LoaderFault(f"the flash loader answered status {status:#x}")

    def _flash_error(self, address: int, sr: int, setup: ProgramSetup) -> FlashProgramError | FlashProtectedError:
        names = facts.flag_names(self.chip, sr & setup.error_mask)
        message = f"programming {address:#010x} failed: flash status {sr:#010x} ({', '.join(names)})"
        if any(n in facts.PROTECTION_FLAGS for n in names):
            return FlashProtectedError(message, address=address, sr=sr,
                                       hint="the sector is write-protected (or the chip read-protected): "
                                       "see the option bytes")
        if any(n in facts.NOT_BLANK_FLAGS for n in names):
            return FlashProgramError(message, address=address, sr=sr,
                                     hint="the flash there was not erased: erase the sector first")
        return FlashProgramError(message, address=address, sr=sr)

    # -- checks: CRC32 and blank ----------------------------------------------------------------
    def crc32(self, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """zlib CRC32 of each (address, length) range, computed by the core (no read-back)."""
        return self.check([(address, length, False) for address, length in ranges])

    def blank(self, ranges: Sequence[tuple[int, int]]) -> list[bool]:
        """Whether each (address, length) range holds only the erased value (word-aligned
        ranges), the core comparing every word (no read-back)."""
        for address, length in ranges:
            if address % 4 or length % 4:
                raise ValueError(f"a blank check needs whole words, not {length} bytes at {address:#010x}")
        return [bool(v) for v in self.check([(address, length, True) for address, length in ranges])]

    def check(self, entries: Sequence[tuple[int, int, bool]]) -> list[int]:
        """For each (address, length, blank): the CRC32 of the range, or (blank) 1 when every
        word of it is erased, else 0. As many loader runs as the RAM needs."""
        _, size = self.layout.work_area  # the list follows the control block, the table the list
        per_run = (size - CRC_TABLE_SIZE - 4) // CRC_ENTRY_SIZE
        if per_run < 1:
            raise LoaderUnavailable("the flash loader's RAM has no room for the CRC table")
        out: list[int] = []
        for first in range(0, len(entries), per_run):
            out += self._check_run(list(entries[first : first + per_run]))
        return out

    def _check_run(self, entries: list[tuple[int, int, bool]]) -> list[int]:
        """One run: the control block and the list in one write, then (after the time the core
        needs at its reset clock) both read back in one read."""
        a, lay = self.access, self.layout
        entries_at = lay.work_area[0]
        listed = b"".join(struct.pack("<III", address, length | (blank << BLANK_FLAG), 0)
                          for address, length, blank in entries)
        crc = any(not blank for _, _, blank in entries)
        table = (entries_at + len(listed) + 3) // 4 * 4 if crc else 0
        erased = 0 if self.chip.erased_value == 0 else 0xFFFF_FFFF
        block = self._control_block({CB_CMD: CMD_CHECK, CB_KICK: self.kick, CB_TABLE: table, CB_LIST: entries_at,
                                     CB_COUNT: len(entries), CB_ERASED: erased})
        self._start(bytes(block) + listed)
        hz = facts.reset_clock_hz(self.chip)
        cycles = (CRC_TABLE_CYCLES if crc else 0) + 100 * len(entries) + sum(
            n * (BLANK_CYCLES_PER_BYTE if blank else CRC_CYCLES_PER_BYTE) for _, n, blank in entries)
        budget = cycles / hz
        pause, waited, looks = max(budget, MIN_PAUSE), 0.0, 0
        while True:
            a.wait(pause)
            waited += pause
            looks += 1
            raw = a.read_block(lay.control, CONTROL_SIZE + len(listed))
            word = struct.unpack_from("<I", raw, CB_DONE)[0]
            if word & STOPPED:
                if word & FAILED:  # ST_BAD_COMMAND: not this loader's code
                    status = struct.unpack_from("<I", raw, CB_STATUS)[0]
                    raise LoaderFault(f"the flash loader answered status {status:#x} to the check job")
                self._primed = True
                break
            state, _ = self._core_state()
            if state != "running":
                if self._progress() & STOPPED:
                    continue  # it finished between the two looks
                raise self._stopped(word, "the check job")
            if word & NOT_STARTED and looks >= START_TRIES:
                self.access.halt()
                raise LoaderUnavailable("the core runs but not the flash loader")
            if waited > 4 * budget + STALL_LIMIT:
                a.halt()
                raise OperationTimeoutError(f"the flash loader's check job took over {waited:.1f} s")
            pause = max(budget / 8, MIN_PAUSE)
        return [struct.unpack_from("<I", raw, CONTROL_SIZE + i * CRC_ENTRY_SIZE + 8)[0] for i in range(len(entries))]


def _step_bytes(step: FlashStep) -> bytes:
    return struct.pack("<IIII", STEP_WAIT if step.wait else STEP_STORE, step.address, step.value, step.errors)


class _Run:
    """What the host knows about one program run, for pacing: where each chunk ends in the
    stream, what its steps take, and the pace the loader has shown."""

    def __init__(self, chunks: list[_Chunk], ends: list[int], unit: int, loader: FlashLoader) -> None:
        self.chunks = chunks
        self.ends = ends
        self.starts = [0, *ends[:-1]]
        self.unit = unit
        self.loader = loader
        self.steps_typ = [c.steps_s() for c in chunks]
        self.steps_max = [c.steps_s("max") for c in chunks]
        self.seen_at: tuple[int, float] = (-1, 0.0)  # (chunk whose steps may be running, time seen so)
        self.last: list[FlashStep] = []  # run after the last chunk
        self.step_failed = False

    def _chunk_of(self, done: int) -> int:
        """The chunk the loader works on (or waits for) with ``done`` bytes stored."""
        return bisect.bisect_right(self.ends, done)

    def _program_s(self, nbytes: int) -> float:
        return max(0, nbytes) / self.unit * self.loader._pace

    def _steps_left(self, c: int, done: int) -> float:
        """Typical time left in chunk ``c``'s steps: all of it until its first byte is stored,
        less what the host has already waited since it first saw the loader at that point."""
        if c >= len(self.chunks) or done != self.starts[c]:
            return 0.0
        seen_c, waited = self.seen_at
        return max(0.0, self.steps_typ[c] - (waited if seen_c == c else 0.0))

    def remaining(self, done: int, target: int) -> float:
        c = self._chunk_of(done)
        t = min(len(self.chunks) - 1, bisect.bisect_left(self.ends, target))
        later = sum(self.steps_typ[c + 1 : t + 1]) if t > c else 0.0
        return self._program_s(target - done) + self._steps_left(c, done) + later

    def slack(self, target: int, written: int) -> float:
        """The work queued after ``target``: how long the loader keeps busy if the host looks late."""
        t = bisect.bisect_left(self.ends, target)
        if t + 1 >= written:
            return 0.0
        return self._program_s(self.ends[written - 1] - self.ends[t]) + sum(self.steps_typ[t + 1 : written])

    def pause(self, done: int, target: int, written: int, quiet: float) -> float:
        remaining = self.remaining(done, target)
        c = self._chunk_of(done)
        if self._steps_left(c, done):
            # when the steps began is not known (the core may have started them long before this
            # look, or they may take less than typical): look after a while, then after as long
            # again as already waited, never later than their typical time says
            remaining = min(remaining, max(STEP_FIRST_LOOK, self.seen_at[1]))
        elif quiet:
            remaining = min(max(remaining, quiet), 50e-3)  # behind its pace: look less and less often
        slack = self.slack(target, written)
        cap = slack / 2 if slack else remaining
        return max(MIN_PAUSE, min(remaining, cap))

    def observe(self, done: int, last: int, pause: float) -> None:
        """After a look: note when the loader sits at a chunk's start (its steps may be running),
        and learn the pace from a pause that held nothing but units of one chunk."""
        c = self._chunk_of(done)
        at_start = c < len(self.chunks) and done == self.starts[c]
        if not at_start:
            self.seen_at = (-1, 0.0)
        elif self.seen_at[0] != c:
            self.seen_at = (c, 0.0)
        if 0 <= last < done and pause and self._chunk_of(last) == c and last != self.starts[c]:
            loader = self.loader
            seen = pause * self.unit / (done - last)
            loader._pace = min(max(loader._pace, seen), PACE_LIMIT * loader.unit_seconds)

    def waited(self, pause: float) -> None:
        c, waited = self.seen_at
        if c >= 0:
            self.seen_at = (c, waited + pause)

    def allowance(self, done: int) -> float:
        """How long the progress may stand still before the host looks at the core: the maximum
        of the steps that may be running, plus the stall limit."""
        c = self._chunk_of(done)
        steps = self.steps_max[c] if c < len(self.chunks) and done == self.starts[c] else 0.0
        return steps + max(STALL_LIMIT, 100 * self.loader.unit_seconds)

    def step_at(self, index: int, address: int, layout: Layout) -> FlashStep | None:
        """The step whose entry sits at ``address`` in the slot of chunk ``index`` (the one the
        loader was on)."""
        if not 0 <= index < len(self.chunks):
            return None
        steps = self.chunks[index].steps
        desc = layout.descriptor(index % len(layout.buffers))
        if index == 0:  # they rode with the control block
            desc = layout.first_steps + STEP_SIZE * len(steps)
        first = desc - STEP_SIZE * len(steps)
        if index == len(self.chunks) - 1 and self.last:  # the last ones too, after the first chunk's
            last = layout.first_steps + STEP_SIZE * len(self.chunks[0].steps)
            if last <= address < last + STEP_SIZE * len(self.last) and (address - last) % STEP_SIZE == 0:
                return self.last[(address - last) // STEP_SIZE]
        if first <= address < desc and (address - first) % STEP_SIZE == 0:
            return steps[(address - first) // STEP_SIZE]
        return None


class _Reporter:
    """Calls the progress callback when the count moves."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.last = -1
        self.done = 0  # bytes the loader reported stored when the progress word was last read

    def __call__(self, done: int) -> None:
        self.done = done = min(done, self.total)
        if self.progress is not None and done != self.last:
            self.last = done
            self.progress(done, self.total)
