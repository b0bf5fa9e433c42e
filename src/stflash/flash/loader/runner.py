"""The host side of stflash's flash loader: put it in the target's RAM, stream data through its
buffers while it programs, and have it sum flash ranges with CRC32.

The driver has unlocked the controller and set its program mode; the loader only stores, polls
and checks, as :class:`~stflash.flash.debug.ProgramSetup` describes. While the core programs one
buffer the probe fills the other, so a write costs about the flash's own time. The host does not
spin: it reads the control block, works out from the loader's progress how long the queued
units take, and waits that long on the host's clock.

Anything that stops the loader from running at all raises :class:`LoaderUnavailable` before a
byte is programmed, so the caller can use the register path instead.
"""

from __future__ import annotations

import importlib.resources
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...chips.model import Chip, Region
from ...errors import OperationTimeoutError, StflashError
from ..debug import MSP, PC, R0, XPSR, DebugAccess, ProgramSetup
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
    B_EMPTY,
    B_END,
    B_FULL,
    CB_BUFS,
    CB_BUSY,
    CB_CMD,
    CB_COUNT,
    CB_DONE,
    CB_ERRMASK,
    CB_FAIL_ADDR,
    CB_FAIL_SR,
    CB_KICK,
    CB_LIST,
    CB_NBUF,
    CB_SR,
    CB_STATUS,
    CB_TABLE,
    CB_UNIT,
    CB_WIDTH,
    CMD_CRC,
    CMD_PROGRAM,
    CONTROL_SIZE,
    CRC_ENTRY_SIZE,
    CRC_TABLE_SIZE,
    D_STATE,
    DESCRIPTOR_SIZE,
    ST_DONE,
    ST_FLASH_ERROR,
    ST_NOT_STARTED,
    ST_RUNNING,
    Layout,
    plan_layout,
)

__all__ = ["FlashLoader", "FlashProgramError", "FlashProtectedError", "LoaderFault", "LoaderUnavailable",
           "Progress", "loader_code"]

Progress = Callable[[int, int], None]  # (bytes programmed, bytes in the call)

# architectural debug registers (ARMv6-M/ARMv7-M ARM)
DHCSR, CCR, MPU_TYPE, MPU_CTRL = 0xE000_EDF0, 0xE000_ED14, 0xE000_ED90, 0xE000_ED94
S_HALT, S_LOCKUP = 1 << 17, 1 << 19
CCR_DC, CCR_IC = 1 << 16, 1 << 17  # Cortex-M7 caches: the probe writes RAM behind the D-cache
SPECIAL = 0x14  # DCRSR REGSEL of CONTROL/FAULTMASK/BASEPRI/PRIMASK
XPSR_T = 1 << 24

# pacing (host clock): pause as long as the queued units take at the pace seen so far (never
# faster than the datasheet's typical time), then look again
MIN_PAUSE = 100e-6
MAX_PAUSE = 50e-3
PACE_LIMIT = 4  # a unit never takes longer than this many typical times (datasheet maxima: ~2x)
STALL_CHECK = 20e-3  # no progress this long (or 10 units): look at the core
STALL_LIMIT = 1.0  # no progress this long (or 100 units) with the core running: give up
START_TRIES = 3
CRC_CYCLES_PER_BYTE = 7  # ARMv6-M timing of the 16-byte loop (loads 2 cycles)
CRC_TABLE_CYCLES = 12_000


def loader_code() -> bytes:
    """The assembled loader (``loader.bin``, rebuilt from ``loader.S`` by ``build.py``)."""
    return importlib.resources.files(__package__).joinpath("loader.bin").read_bytes()


@dataclass(frozen=True)
class _Chunk:
    segment: int  # index of the caller's segment it belongs to
    dest: int
    data: bytes


class FlashLoader:
    """One loader placement on one core. ``ram`` defaults to the chip's first RAM region (give
    another where that core cannot execute, e.g. the DTCM from the Cortex-M4 of an H745)."""

    def __init__(
        self,
        access: DebugAccess,
        chip: Chip,
        *,
        ram: Region | None = None,
        buffers: int = 2,
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

    # -- placing and starting ---------------------------------------------------------------------
    def load(self) -> None:
        """Halt the core and put the loader in RAM (checked by reading it back)."""
        a = self.access
        if not a.is_halted():
            a.halt()
            if not a.is_halted():
                raise LoaderUnavailable("the core does not halt, so it cannot run the flash loader",
                                        hint="connect under reset")
        self._quiet_core()
        a.write_block(self.layout.code, self.code)
        if a.read_block(self.layout.code, len(self.code)) != self.code:
            raise LoaderUnavailable(f"the RAM at {self.layout.code:#010x} does not keep the flash loader")
        self.loaded = True

    def _quiet_core(self) -> None:
        """Caches off (the probe writes the buffers into RAM behind a Cortex-M7's D-cache) and no
        MPU (a firmware's execute-never SRAM would stop the loader). Reset leaves both off."""
        a = self.access
        ccr = a.read32(CCR)
        if ccr & (CCR_DC | CCR_IC):
            a.write32(CCR, ccr & ~(CCR_DC | CCR_IC))
        if a.read32(MPU_TYPE) >> 8 & 0xFF and a.read32(MPU_CTRL) & 1:
            a.write32(MPU_CTRL, 0)

    def _start(self, words: dict[int, int], descriptors: bytes = b"") -> None:
        """Write the control block, point the core at the loader and let it run. Between runs a
        reset may have let the firmware run and reuse that RAM: the code is checked each time."""
        if not self.loaded or not self.access.is_halted() or \
                self.access.read_block(self.layout.code, len(self.code)) != self.code:
            self.load()
        block = bytearray(CB_BUFS)
        for offset, value in words.items():
            struct.pack_into("<I", block, offset, value & 0xFFFF_FFFF)
        struct.pack_into("<I", block, CB_STATUS, ST_NOT_STARTED)
        a, lay = self.access, self.layout
        a.write_block(lay.control, bytes(block) + descriptors)
        a.write_core_register(R0, lay.control)
        a.write_core_register(SPECIAL, 0)  # thread mode on MSP, PRIMASK clear
        a.write_core_register(MSP, lay.stack_top)
        a.write_core_register(PC, lay.code)
        a.write_core_register(XPSR, XPSR_T)
        a.run(mask_interrupts=True)

    def _control(self) -> list[int]:
        raw = self.access.read_block(self.layout.control, CONTROL_SIZE)
        return list(struct.unpack(f"<{CONTROL_SIZE // 4}I", raw))

    def _core_state(self) -> tuple[str, int]:
        """("halted" | "lockup" | "running", DHCSR)."""
        dhcsr = self.access.read32(DHCSR)
        if dhcsr & S_HALT:
            return "halted", dhcsr
        return ("lockup" if dhcsr & S_LOCKUP else "running"), dhcsr

    def _stopped(self, words: list[int], what: str) -> LoaderUnavailable:
        """The error for a loader that does not answer: halted, locked up or gone quiet."""
        state, dhcsr = self._core_state()
        if state != "halted":
            self.access.halt()
        pc = self.access.read_core_register(PC) if self.access.is_halted() else None
        where = f", PC {pc:#010x}" if pc is not None else ""
        if words[CB_STATUS // 4] == ST_NOT_STARTED:
            return LoaderUnavailable(
                f"the core did not start the flash loader ({state}, DHCSR {dhcsr:#010x}{where})")
        return LoaderFault(f"the flash loader stopped during {what} ({state}, DHCSR {dhcsr:#010x}{where})")

    # -- programming ---------------------------------------------------------------------------
    def program(self, address: int, data: bytes, setup: ProgramSetup, progress: Progress | None = None) -> None:
        """Program ``data`` at ``address`` (padded to whole units with ``setup.erased``)."""
        self.program_segments([(address, data)], setup, progress)

    def program_segments(
        self, segments: Sequence[tuple[int, bytes]], setup: ProgramSetup, progress: Progress | None = None
    ) -> None:
        """Program several ranges in one loader run (one ``setup``: on an H7 one bank). A failure
        names the address and the status flags; its ``written_upto`` counts the bytes of the failing
        segment known programmed, and ``written`` lists the (address, length) ranges that landed.
        That holds for a probe error in the middle of the run too: it counts what the loader had
        reported done when the control block was last read."""
        self._check_setup(setup)
        parts, chunks = self._chunks(segments, setup)
        if not chunks:
            return
        lay = self.layout
        nbuf = len(lay.buffers)
        ends: list[int] = []
        for chunk in chunks:
            ends.append((ends[-1] if ends else 0) + len(chunk.data))
        total = ends[-1]
        first = min(nbuf, len(chunks))
        descriptors = bytearray(DESCRIPTOR_SIZE * nbuf)
        for slot in range(first):
            self.access.write_block(lay.buffers[slot], chunks[slot].data)
            descriptors[slot * DESCRIPTOR_SIZE : (slot + 1) * DESCRIPTOR_SIZE] = \
                self._descriptor(slot, chunks[slot], B_FULL)
        if first < nbuf:
            struct.pack_into("<I", descriptors, first * DESCRIPTOR_SIZE + D_STATE, B_END)
        self._start({CB_CMD: CMD_PROGRAM, CB_SR: setup.sr, CB_BUSY: setup.busy_mask,
                     CB_ERRMASK: setup.error_mask, CB_WIDTH: setup.width, CB_UNIT: setup.unit,
                     CB_KICK: self.kick, CB_NBUF: nbuf}, bytes(descriptors))
        report = _Reporter(progress, total)
        self._pace = self.unit_seconds
        try:
            nxt, end_marked = first, first < nbuf
            while nxt < len(chunks) or not end_marked:
                slot = nxt % nbuf
                self._await_program(ends[nxt - nbuf], slot, setup, report)
                if nxt < len(chunks):
                    self.access.write_block(lay.buffers[slot], chunks[nxt].data)
                    self.access.write_block(lay.control + CB_BUFS + slot * DESCRIPTOR_SIZE,
                                            self._descriptor(slot, chunks[nxt], B_FULL))
                    nxt += 1
                else:
                    self.access.write32(lay.control + CB_BUFS + slot * DESCRIPTOR_SIZE + D_STATE, B_END)
                    end_marked = True
            self._await_program(total, None, setup, report)
        except StflashError as exc:
            # the unit counted last may still be running: everything before it is programmed
            exc.written_upto = max(0, report.done - setup.unit)
            attach_written(exc, parts, [(c.segment, len(c.data)) for c in chunks])
            raise

    def _check_setup(self, setup: ProgramSetup) -> None:
        if setup.width not in (1, 2, 4) or setup.unit < setup.width or setup.unit % setup.width:
            raise ValueError(f"store width {setup.width} and unit {setup.unit} do not fit together")
        if self.layout.buffer_size % setup.unit:
            raise ValueError(f"a {setup.unit}-byte unit does not divide the {self.layout.buffer_size}-byte buffers")

    def _chunks(self, segments: Sequence[tuple[int, bytes]], setup: ProgramSetup) -> tuple[list[Span], list[_Chunk]]:
        parts: list[Span] = []
        chunks: list[_Chunk] = []
        size, unit, fill = self.layout.buffer_size, setup.unit, bytes([setup.erased])
        for index, (address, data) in enumerate(segments):
            front = address % unit
            body = fill * front + bytes(data)
            body += fill * (-len(body) % unit)
            parts.append(Span(address, len(data), front))
            if not data:
                continue
            for pos in range(0, len(body), size):
                chunks.append(_Chunk(index, address - front + pos, body[pos : pos + size]))
        return parts, chunks

    def _descriptor(self, slot: int, chunk: _Chunk, state: int) -> bytes:
        return struct.pack("<IIII", self.layout.buffers[slot], len(chunk.data), chunk.dest, state)

    def _await_program(self, target: int, slot: int | None, setup: ProgramSetup, report: _Reporter) -> None:
        """Wait until descriptor ``slot`` is free again (None: until the loader has stopped),
        pausing as long as the units queued before ``target`` bytes should take."""
        a = self.access
        unit_s = self.unit_seconds
        state_word = None if slot is None else (CB_BUFS + slot * DESCRIPTOR_SIZE + D_STATE) // 4
        last, quiet, pause, looks = -1, 0.0, 0.0, 0
        while True:
            words = self._control()
            status, done = words[CB_STATUS // 4], words[CB_DONE // 4]
            report(done)
            if status == ST_FLASH_ERROR:
                raise self._flash_error(words, setup)
            if status not in (ST_RUNNING, ST_DONE, ST_NOT_STARTED):
                raise LoaderFault(f"the flash loader answered status {status:#x}")
            if state_word is None and status == ST_DONE:
                self._ensure_halted()
                return
            if state_word is not None and status == ST_RUNNING and words[state_word] == B_EMPTY:
                return
            if status == ST_DONE:
                raise self._stopped(words, "programming (it ended early)")
            quiet = quiet + pause if done == last else 0.0
            if last >= 0 and done > last:  # busy all through the pause: its real pace
                seen = pause * setup.unit / (done - last)
                self._pace = min(max(self._pace, seen), PACE_LIMIT * unit_s)
            last = done
            looks += 1
            if status == ST_NOT_STARTED or quiet >= max(STALL_CHECK, 10 * unit_s):
                if self._core_state()[0] != "running":
                    if self._control() != words:
                        continue  # it moved on between the two looks (a debugger's look lets it run)
                    raise self._stopped(words, "programming")
                if status == ST_NOT_STARTED and looks >= START_TRIES:
                    self.access.halt()
                    raise LoaderUnavailable("the core runs but not the flash loader")
                if quiet >= max(STALL_LIMIT, 100 * unit_s):
                    raise self._timeout(done)
            if quiet:  # nothing moved: look less and less often
                pause = min(2 * pause, MAX_PAUSE)
            else:
                pause = max(max(1, math.ceil((target - done) / setup.unit)) * self._pace, MIN_PAUSE)
            a.wait(pause)

    def _ensure_halted(self) -> None:
        """The loader ends on BKPT right after its last store: normally already halted."""
        for _ in range(START_TRIES):
            if self.access.is_halted():
                return
            self.access.wait(MIN_PAUSE)
        self.access.halt()

    def _timeout(self, done: int) -> OperationTimeoutError:
        self.access.halt()
        return OperationTimeoutError(
            f"the flash loader made no progress for {STALL_LIMIT:.1f} s after {done} bytes",
            hint="the flash controller stays busy; power-cycle the board and try again")

    def _flash_error(self, words: list[int], setup: ProgramSetup) -> FlashProgramError | FlashProtectedError:
        address, sr = words[CB_FAIL_ADDR // 4], words[CB_FAIL_SR // 4]
        names = facts.flag_names(self.chip, sr & setup.error_mask)
        message = f"programming {address:#010x} failed: flash status {sr:#010x} ({', '.join(names)})"
        self._ensure_halted()
        if any(n in facts.PROTECTION_FLAGS for n in names):
            return FlashProtectedError(message, address=address, sr=sr,
                                       hint="the sector is write-protected (or the chip read-protected): "
                                       "see the option bytes")
        if any(n in facts.NOT_BLANK_FLAGS for n in names):
            return FlashProgramError(message, address=address, sr=sr,
                                     hint="the flash there was not erased: erase the sector first")
        return FlashProgramError(message, address=address, sr=sr)

    # -- CRC32 ----------------------------------------------------------------------------------------
    def crc32(self, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """zlib CRC32 of each (address, length) range, computed by the core (no read-back)."""
        base, size = self.layout.work_area
        per_run = (size - CRC_TABLE_SIZE) // CRC_ENTRY_SIZE
        if per_run < 1:
            raise LoaderUnavailable("the flash loader's RAM has no room for the CRC table")
        out: list[int] = []
        for first in range(0, len(ranges), per_run):
            out += self._crc_run(list(ranges[first : first + per_run]), base, base + CRC_TABLE_SIZE)
        return out

    def _crc_run(self, ranges: list[tuple[int, int]], table: int, entries: int) -> list[int]:
        a = self.access
        a.write_block(entries, b"".join(struct.pack("<III", addr, n, 0) for addr, n in ranges))
        self._start({CB_CMD: CMD_CRC, CB_KICK: self.kick, CB_TABLE: table, CB_LIST: entries,
                     CB_COUNT: len(ranges)})
        hz = facts.reset_clock_hz(self.chip)
        budget = (CRC_TABLE_CYCLES + CRC_CYCLES_PER_BYTE * sum(n for _, n in ranges) + 100 * len(ranges)) / hz
        pause, waited = max(budget, MIN_PAUSE), 0.0
        while True:
            a.wait(pause)
            waited += pause
            words = self._control()
            status = words[CB_STATUS // 4]
            if status == ST_DONE:
                self._ensure_halted()
                break
            if status not in (ST_RUNNING, ST_NOT_STARTED):  # ST_BAD_COMMAND: not this loader's code
                raise LoaderFault(f"the flash loader answered status {status:#x} to the CRC job")
            state, _ = self._core_state()
            if state != "running":
                if self._control()[CB_STATUS // 4] == ST_DONE:
                    self._ensure_halted()  # it finished between the two looks
                    break
                raise self._stopped(words, "the CRC job")
            if waited > 4 * budget + STALL_LIMIT:
                a.halt()
                raise OperationTimeoutError(f"the flash loader's CRC job took over {waited:.1f} s")
            pause = max(budget / 8, MIN_PAUSE)
        raw = a.read_block(entries, CRC_ENTRY_SIZE * len(ranges))
        return [struct.unpack_from("<I", raw, i * CRC_ENTRY_SIZE + 8)[0] for i in range(len(ranges))]


class _Reporter:
    """Calls the progress callback when the count moves."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.last = -1
        self.done = 0  # bytes the loader reported stored when the control block was last read

    def __call__(self, done: int) -> None:
        self.done = done = min(done, self.total)
        if self.progress is not None and done != self.last:
            self.last = done
            self.progress(done, self.total)
