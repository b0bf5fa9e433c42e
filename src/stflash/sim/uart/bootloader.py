"""The USART system bootloader (AN3155) as a byte-level state machine over a bench.

It exists only while the board is powered, NRST is released and the chip runs its system memory
(``SimChip.boot_source == "bootloader"``). It answers, never initiates: each host character goes
in through :func:`receive`, which returns what the ROM puts on its TX line and when.

Everything that must outlive a process (synchronised?, the measured baud rate, the part of a
command received so far, the F2/F4/F7 voltage range) lives in ``bench.board.link_state["uart"]``,
tagged with the chip's reset count: any reset (ours, the reset button, a debugger, a power cycle)
starts the ROM again, unsynchronised.

Policies where the references are silent (uart.md 14) are named constants, here and in
``commands.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..faults import BusFault, PowerLost
from .baud import measured_rate
from .commands import HANDLERS
from .memory import LOWEST_RANGE
from .protocol import ACK, MIN_BAUD, NACK, NAMES, RDP_ALLOWED, SYNC, command_set

if TYPE_CHECKING:
    from ..bench import Bench
    from ..chip import SimChip

__all__ = ["ACK", "NACK", "NAMES", "SYNC", "Answer", "Ctx", "command_set", "listening_from", "mismeasured", "present",
           "receive", "state"]

# Policy: a first character other than 0x7F makes the ROM measure a wrong baud rate (AN2606
# "USART connection timing"); "deaf": it answers nothing until the next reset ("ignore": it keeps
# waiting for 0x7F).
FIRST_CHAR_NOT_SYNC = "deaf"
# Policy: a part whose start-up time our references do not give (chips' ``startup_ms`` None) starts
# listening this long after its reset: longer than the parts the tables give, F4/H7 aside, so a
# host that does not wait is caught out.
UNKNOWN_STARTUP_MS = 50.0


def listening_from(bench: Bench) -> int:
    """When the ROM's USART starts listening for 0x7F: its start-up time (AN2606 "Bootloader
    startup timings") after the last reset. A character that began sooner is lost."""
    chip = bench.chip
    startup = chip.chip.bootloader.startup_ms
    return chip.reset_ns + round((UNKNOWN_STARTUP_MS if startup is None else startup) * 1e6)


def mismeasured(bench: Bench) -> None:
    """The ROM timed a first character that was not a whole 0x7F (another byte, or one it began
    listening in the middle of): ``FIRST_CHAR_NOT_SYNC`` says what it does then."""
    if FIRST_CHAR_NOT_SYNC == "deaf":
        state(bench)["deaf"] = True


def present(bench: Bench) -> bool:
    """Is the ROM's USART listening now?"""
    board, chip = bench.board, bench.chip
    return (board.powered and not board.nrst_held and chip.boot_source == "bootloader"
            and chip.chip.bootloader.uart_version != 0
            and not bench.supply_locked())  # a latched H7 supply lock-up: the ROM does not run either


def state(bench: Bench) -> dict[str, Any]:
    """The persistent part of the ROM's USART session (fresh after any chip reset)."""
    st = bench.board.link_state.setdefault("uart", {})
    if st.get("reset_count") != bench.chip.reset_count:
        st.clear()
        st.update({"reset_count": bench.chip.reset_count, "synced": False, "deaf": False, "baud": 0,
                   "buf": [], "need": 1, "vrange": LOWEST_RANGE})
    return st


@dataclass
class Answer:
    """What the ROM sent for one host character: (bytes, chip time they were ready) pieces."""

    pieces: list[tuple[bytes, int]] = field(default_factory=list)
    what: str = ""


class Ctx:
    """One character's worth of ROM activity: the bench, the session state, what goes out."""

    def __init__(self, bench: Bench, st: dict[str, Any]) -> None:
        self.bench = bench
        self.chip: SimChip = bench.chip
        self.st = st
        self.answer = Answer()

    def emit(self, data: bytes) -> None:
        self.answer.pieces.append((bytes(data), self.chip.clock.now))

    def ack(self) -> bool:
        """Send ACK; False when an armed ``uart-nack-after`` fault turned it into a NACK (the ROM
        then goes back to waiting for a command, as after any NACK)."""
        board = self.bench.board
        board.uart_acks += 1
        limit = board.faults.get("uart-nack-after")
        if limit is not None and board.uart_acks >= limit:
            del board.faults["uart-nack-after"]
            self.emit(bytes([NACK]))
            return False
        self.emit(bytes([ACK]))
        return True

    def nack(self) -> int:
        self.emit(bytes([NACK]))
        return 0


def receive(bench: Bench, value: int, baud: int) -> Answer:
    """One character from the host (already as the ROM's USART read it)."""
    if not present(bench):
        return Answer()
    st = state(bench)
    if st["deaf"]:
        return Answer()
    ctx = Ctx(bench, st)
    if not st["synced"]:
        ctx.answer.what = "sync"
        if value == SYNC and baud >= MIN_BAUD:
            st["synced"], st["baud"] = True, measured_rate(bench, baud)
            ctx.ack()
        else:
            mismeasured(bench)
        return ctx.answer
    buf: list[int] = st["buf"]
    buf.append(value & 0xFF)
    if len(buf) < st["need"]:
        return ctx.answer
    ctx.answer.what = NAMES.get(buf[0], f"command {buf[0]:#04x}")
    need = _dispatch(ctx, bytes(buf))
    if st is bench.board.link_state.get("uart") and st.get("reset_count") == bench.chip.reset_count:
        if need:
            st["need"] = need
        else:
            st["buf"], st["need"] = [], 1
    return ctx.answer


def _dispatch(ctx: Ctx, buf: bytes) -> int:
    """Act on the command bytes received so far; return the length at which to call again, or 0
    when the command is over."""
    if len(buf) == 1:
        return 2
    cmd = buf[0]
    if len(buf) == 2:
        _version, codes = command_set(ctx.bench)
        if buf[1] != cmd ^ 0xFF or cmd not in codes:
            return ctx.nack()
        if ctx.chip.rdp_level >= 1 and cmd not in RDP_ALLOWED:
            return ctx.nack()
    try:
        return HANDLERS[cmd](ctx, buf)
    except BusFault:
        return ctx.nack()  # an access the chip refused: the ROM reports the command as failed
    except PowerLost:
        return 0  # the supply failed under the ROM (an injected fault): nothing more comes out


