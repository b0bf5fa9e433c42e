"""The wire protocol of stflash's UART stub (``flash/stub/stub.S``), host side.

The ROM (AN3155) takes 256 bytes per Write Memory and answers each command before it takes the
next, so every frame costs the line's turnaround three times. Once the stub runs, the host sends
frames of a few KiB back to back, as many as the stub has RAM slots for; the stub checks each
frame's CRC32, runs its steps (erase, program mode), programs and compares its data, and answers
one byte per frame, in order. A frame the stub finds damaged (CRC, length, line error) is
answered ``BAD``; the stub then drops everything until the host sends a resynchronisation
pattern, answers ``RESYNC``, and the host sends that frame and the ones after it again (a frame
already done is recognised by its sequence number and not done twice).

Frame: command, number of steps, data length (16 bits), address (32), sequence (16), two spare
bytes, the steps (16 bytes each), the data, CRC32 of everything before it (little-endian).
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import LinkError, OperationTimeoutError, StflashError

# stub.S: parameter block (word offsets)
P_SR, P_RXNE, P_TXE, P_RDR, P_TDR, P_ERRS, P_ICR, P_KICK = range(0x00, 0x20, 4)
P_SLOTEND, P_SLOT0, P_STRIDE, P_TABLE, P_INIT, P_NINIT, P_ERASED, P_MAXFRAME = range(0x20, 0x40, 4)
P_SETUPS = 0x40
P_PORTS, P_NPORTS, P_WAKE, P_ZERO = range(0x68, 0x78, 4)  # after the stub's own words
PARAM_SIZE = 0x78
# a port entry: its SR, RDR, TDR and ICR addresses, where its TX pin steps are and how many, then the
# stub's record of its last two characters
PORT_SIZE = 32
SETUP_SIZE = 20  # SR, BUSY, ERRMASK, WIDTH, UNIT
SLOT_STATE = 4  # each slot: a state word, then the frame
HEADER = 12
STEP_SIZE = 16
CRC_SIZE = 4
STEP_STORE, STEP_WAIT, STEP_SKIP, STEP_MODIFY, STEP_UNTIL = 1, 2, 3, 4, 5
CMD_PROGRAM0, CMD_PROGRAM1, CMD_CHECK, CMD_READ, CMD_AFTER = 0x50, 0x51, 0x43, 0x52, 0x41
ANS_OK, ANS_FLASH, ANS_VERIFY, ANS_STEP, ANS_COMMAND = 0x00, 0x02, 0x03, 0x04, 0x05
ANS_BAD, ANS_RESYNC = 0xEE, 0x3C
HELLO = bytes([0x53, 0x02])  # 'S', version; then the index of the port the wake pair came in on
WAKE = bytes([0x5C, 0xC5])  # the host's wake pair, sent on the line it is wired to
RESYNC_PATTERN_MIN = 4  # 0xA5 bytes the stub needs before the 0x5A
BLANK_FLAG = 1 << 31
RESYNC_TRIES = 3

Step = tuple[int, int, int, int]  # (kind, address, value, extra) as the stub runs it


def pack_steps(steps: Iterable[Step]) -> bytes:
    """Steps as the stub reads them, in a frame or in its parameter block: four words each."""
    return b"".join(struct.pack("<4I", *(v & 0xFFFF_FFFF for v in s)) for s in steps)


@dataclass
class Frame:
    """One command for the stub, with what the host needs to account for its answer."""

    command: int
    address: int = 0
    data: bytes = b""
    steps: Sequence[Step] = ()
    answer_size: int = 0  # bytes after the OK byte
    budget_s: float = 0.0  # the longest the stub may work on it (its steps' maxima, programming)
    sequence: int = 0
    tag: Any = None  # the caller's: what the frame carries (for progress and errors)

    def encode(self) -> bytes:
        head = struct.pack("<BBHIH2x", self.command, len(self.steps), len(self.data), self.address & 0xFFFF_FFFF,
                           self.sequence & 0xFFFF)
        body = head + pack_steps(self.steps) + self.data
        return body + struct.pack("<I", zlib.crc32(body) & 0xFFFF_FFFF)


@dataclass
class Answer:
    frame: Frame
    payload: bytes = b""


class StubError(StflashError):
    """The stub reported a failure: ``answer`` (ANS_*), the address and word it gave."""

    def __init__(self, message: str, answer: int, address: int, word: int, frame: Frame) -> None:
        super().__init__(message)
        self.answer, self.address, self.word, self.frame = answer, address, word, frame


@dataclass
class StubWire:
    """The stub's side of the serial port: frames out, answers back, ``slots`` in flight."""

    port: Any
    slots: int
    max_frame: int
    char_s: float  # one character on the wire (11 bits at the baud rate)
    latency_s: float = 0.02  # the adapter's turnaround, with room
    sequence: int = 0

    def wake(self, tries: int) -> int | None:
        """Send the wake pair until the stub answers on this line: the index of the port it chose,
        or None when ``tries`` pairs went unanswered (what arrives before the greeting is the line
        settling; a stub nobody woke gives up and resets the chip to its ROM by itself)."""
        self.port.timeout = 6 * self.char_s + self.latency_s
        seen = b""
        for _ in range(tries):
            self.port.write(WAKE)
            for _ in range(64):
                got = self.port.read(1)
                if not got:
                    break
                seen = (seen + got)[-3:]
                if len(seen) == 3 and seen[:2] == HELLO:
                    return int(seen[2])
        return None

    def run(self, frames: Sequence[Frame], on_answer: Callable[[Answer], None] | None = None) -> None:
        """Send ``frames`` with up to ``slots`` unanswered; ``on_answer`` hears each good answer in
        order. A failure the stub reports raises :class:`StubError` (frames after it are not
        done); a damaged frame is sent again after a resynchronisation."""
        pending: deque[Frame] = deque()
        queue = deque(frames)
        resyncs = 0
        while queue or pending:
            while queue and len(pending) < self.slots:
                frame = queue.popleft()
                frame.sequence = self.sequence
                self.sequence = (self.sequence + 1) & 0xFFFF
                self._send(frame)
                pending.append(frame)
            frame = pending[0]
            code = self._read(1, frame, pending)
            if code is None or code[0] == ANS_BAD:
                resyncs += 1
                if resyncs > RESYNC_TRIES:
                    raise LinkError(f"the line to the stub keeps failing (frame at {frame.address:#010x})",
                                    hint="a noisy line or a too high baud rate; try a lower baud")
                self._resync(pending)
                queue.extendleft(reversed(pending))  # the same sequence numbers again
                self.sequence = pending[0].sequence
                pending.clear()
                continue
            pending.popleft()
            if code[0] != ANS_OK:
                detail = self._read(8, frame, pending)
                if detail is None:
                    raise LinkError("the stub's error report was cut short")
                address, word = struct.unpack("<II", detail)
                raise StubError(f"stub error {code[0]:#04x} at {address:#010x} ({word:#010x})", code[0], address, word,
                                frame)
            payload = self._read(frame.answer_size, frame, pending) if frame.answer_size else b""
            if payload is None:
                raise LinkError("the stub's answer was cut short")
            if on_answer is not None:
                on_answer(Answer(frame, payload))

    def send_only(self, frame: Frame) -> None:
        """A frame whose answer nobody waits for (one that resets the chip)."""
        frame.sequence = self.sequence
        self.sequence = (self.sequence + 1) & 0xFFFF
        self._send(frame)

    def _send(self, frame: Frame) -> None:
        self.port.write(frame.encode())

    def _read(self, n: int, frame: Frame, pending: Sequence[Frame]) -> bytes | None:
        """``n`` answer bytes for ``frame``, allowing for everything queued before them to cross the
        wire and be worked on; None when they do not come."""
        queued = sum(len(f.data) + HEADER + CRC_SIZE + STEP_SIZE * len(f.steps) for f in pending)
        self.port.timeout = (queued + n) * self.char_s + sum(f.budget_s for f in pending) + self.latency_s + 0.5
        got = self.port.read(n)
        if len(got) < n:
            return None
        return bytes(got)

    def _resync(self, pending: Sequence[Frame]) -> None:
        """Bring the stub back to a frame boundary: enough 0xA5 to end any frame it is in, 0x5A,
        then wait for its RESYNC (dropping whatever answers come before)."""
        budget = sum(f.budget_s for f in pending) + 1.0
        self.port.write(b"\xa5" * (self.max_frame + RESYNC_PATTERN_MIN) + b"\x5a")
        self.port.timeout = (self.max_frame + 8) * self.char_s + budget + self.latency_s
        for _ in range(self.max_frame * 4):
            got = self.port.read(1)
            if not got:
                break
            if got[0] == ANS_RESYNC:
                return
        raise OperationTimeoutError("the flashing stub does not answer any more",
                                    hint="reset the board into its bootloader and run the command again")
