"""The UART line between a host's adapter and the ROM, on the bench's virtual clock.

Costs (docs/timing-model.md, "UART"): every character occupies (start + data + parity + stop) bit
times at the baud rate, one after the other in each direction; the ROM reads a character when
its frame has ended and its answer goes out once it is ready (flash operations advance the chip
clock); the adapter hands received bytes to the host after its turnaround latency
(``board.uart_latency_us``: 1 ms, an FTDI's latency timer 16 ms), so each time the host waits for
the device it pays that latency once. Injected faults act here: a dropped host byte never reaches
the ROM, a corrupted one arrives with bit 0 flipped.

The ROM model answers whichever of its USARTs the adapter is wired to (it listens on all of them).
Once it has jumped into RAM (Go), the same wire reaches the chip's USART the bench's adapter is
wired to (``board.uart_port``, ``sim.periph``: that instance through those pins): the host's
characters go to its RX pin, the code in RAM runs up to each moment the host acts at or waits until
(``pump``, ``wait_for``, ``settle``), and the frames it sends reach the host through the adapter's
latency like the ROM's answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import bootloader, ramcode
from .frames import ROM_FRAMING, Char, Framing, transcode

if TYPE_CHECKING:
    from ..bench import Bench

# Policy (uart.md 14, open question): the ROM takes characters with a parity or framing error as
# received (it does not look at PE/FE), so a corrupted byte reaches the command parser.
ROM_IGNORES_LINE_ERRORS = True
CORRUPT_MASK = 0x01  # the bit an injected ``uart-corrupt-after`` fault flips (the first data bit sent)
# While code in RAM runs, a host wait is run in steps of at most the adapter's latency: a byte the
# code sends within a step reaches the host a latency after its frame ends, so the core never runs
# past the moment the host has it (with a latency below this floor, by less than the floor).
STEP_FLOOR_NS = 50_000
RUN_AWAY_NS = 10_000_000_000  # how long a host with no read timeout waits for busy code (10 s)


@dataclass
class UartLine:
    """One host's end of the line: when its TX is free, and what the ROM sent and when it reaches
    the host. ``check_framing=False`` treats the host as speaking the ROM's format whatever it says
    (a pseudo-terminal carries no framing)."""

    check_framing: bool = True
    host_free: int = 0  # when the host's TX line is idle again (ns)
    dev_free: int = 0  # when the ROM's TX line is idle again (ns)
    rx: list[tuple[int, int]] = field(default_factory=list)  # (byte, ns it reaches the host)
    framing: Framing = ROM_FRAMING  # the host's format and rate: what it makes of what it receives
    baud: float = 115200
    told: str = ""  # the wired USART's problem last written to the trace

    def listen(self, framing: Framing, baud: float) -> None:
        """The host's UART settings from now on (pyserial applies them at once)."""
        self.framing, self.baud = framing, baud

    def send(self, bench: Bench, data: bytes, start_ns: int, framing: Framing, baud: int) -> None:
        """The host writes ``data`` at ``start_ns``; the ROM reads and answers."""
        if not data:
            return
        self.listen(framing, baud)
        span = framing.char_ns(baud)
        t = max(start_ns, self.host_free)
        self._catch_up(bench, t)
        sent: list[tuple[int, int]] = []
        for value in data:
            sent.append((value, t))
            t += span
        self.host_free = t
        if bootloader.present(bench):
            what = _label(data) or _in_progress(bench)
        else:
            what = "to code in RAM" if ramcode.running(bench) else ""
        bench.record("uart", "out", len(data), sent[0][1], t, what)
        chars = _apply_faults(bench, sent)
        self._deliver(bench, chars, framing, baud, [])

    def send_break(self, bench: Bench, start_ns: int, duration_ns: int, framing: Framing, baud: int) -> None:
        """The host holds its TX low for ``duration_ns``: the ROM's USART reads a 0x00 with a
        framing error."""
        self.listen(framing, baud)
        t = max(start_ns, self.host_free)
        self._catch_up(bench, t)
        self.host_free = t + duration_ns
        bench.record("uart", "out", 0, t, t + duration_ns, "break")
        self._deliver(bench, [], framing, baud, [(t, t + duration_ns)])

    def _catch_up(self, bench: Bench, t: int) -> None:
        """Code in RAM runs up to the moment the host's next character starts: what it did while the
        host was away (a reset back to the ROM, a character sent) happened before that character."""
        if ramcode.running(bench):
            self.pump(bench, t)

    def _deliver(self, bench: Bench, sent: list[tuple[int, int]], framing: Framing, baud: int,
                 breaks: list[tuple[int, int]]) -> None:
        clock = bench.clock
        queue = list(sent)
        while queue or breaks:
            if not bootloader.present(bench):
                self._to_usart(bench, queue, breaks, framing, baud)
                return
            pending = queue
            st = bootloader.state(bench)
            synced = st is not None and bool(st["synced"]) and not st["deaf"]
            if synced and st is not None:
                rx_framing, rx_baud = ROM_FRAMING, int(st["baud"])
            else:
                rx_framing, rx_baud = framing, baud  # unsynchronised: the ROM measures the host's 0x7F
            tx_framing, tx_baud = framing, baud
            if not self.check_framing:
                # a pty carries no format, but the rates still differ by what the ROM measured
                rx_framing, tx_framing = ROM_FRAMING, ROM_FRAMING
            listening = bootloader.listening_from(bench)
            if not synced and queue and queue[0][1] < listening:
                # the ROM is still starting: the character is lost, and one it starts listening in
                # the middle of is measured wrong (the ROM times edges that are not a 0x7F's)
                value, start = queue.pop(0)
                if start + framing.char_ns(baud) > listening:
                    bootloader.mismeasured(bench)
                bench.record("uart", "in", 0, start, start, f"{value:#04x} lost: the ROM is still starting")
                continue
            if not synced:
                # the first character alone decides the synchronisation; the rest is read at the
                # rate and format the ROM then sets
                head = transcode(queue[:1], tx_framing, tx_baud, rx_framing, rx_baud, breaks)[:1]
                consumed = 1 if queue else 0
            else:
                head = transcode(queue, tx_framing, tx_baud, rx_framing, rx_baud, breaks)
                consumed = len(queue)
            queue, breaks = queue[consumed:], []
            for char in head:
                clock.advance_to(char.end_ns)
                if (char.parity_error or char.framing_error) and not ROM_IGNORES_LINE_ERRORS:
                    continue
                answer = bootloader.receive(bench, char.value, baud)
                if answer.pieces:
                    self._answer(bench, answer, framing, baud)
                if not bootloader.present(bench):  # Go: what was not on the wire yet meets the code
                    rest = [c for c in pending if c[1] >= clock.now]
                    self._to_usart(bench, rest, [], framing, baud)
                    return
            if not head and not consumed:
                break

    def _answer(self, bench: Bench, answer: bootloader.Answer, framing: Framing, baud: int) -> None:
        """The ROM's bytes on its TX line, and when the host has them."""
        st = bootloader.state(bench)
        dev_baud = int(st["baud"]) or baud
        span = ROM_FRAMING.char_ns(dev_baud)
        chars: list[tuple[int, int]] = []
        for data, ready in answer.pieces:
            t = max(ready, self.dev_free)
            for value in data:
                chars.append((value, t))
                t += span
            self.dev_free = t
        if not chars:
            return
        latency = bench.board.uart_latency_us * 1000
        heard: list[Char] = transcode(chars, ROM_FRAMING, dev_baud, framing if self.check_framing else ROM_FRAMING,
                                      baud)
        arrivals = [(c.value, c.end_ns + latency) for c in heard]
        self.rx.extend(arrivals)
        end = arrivals[-1][1] if arrivals else self.dev_free
        bench.record("uart", "in", len(arrivals), chars[0][1], end, answer.what)

    # -- code in RAM -------------------------------------------------------------------------
    def _to_usart(self, bench: Bench, chars: list[tuple[int, int]], breaks: list[tuple[int, int]],
                  framing: Framing, baud: int) -> None:
        """Characters on the wire with no ROM listening: the wired USART's RX pin has them (a pty
        carries no format: they count as whatever the USART expects), then the code runs until
        they are over."""
        board, usart = bench.board, bench.chip.peripherals.usart
        if usart is not None and board.powered and not board.nrst_held:
            usart.line_in(chars, framing if self.check_framing else None, baud, breaks)
        end = max([s + framing.char_ns(baud) for _v, s in chars] + [b for _a, b in breaks], default=0)
        self.pump(bench, end)

    def pump(self, bench: Bench, t: int) -> int | None:
        """Run the device up to ``t`` (code in RAM, its USARTs) and collect what it sent; when it may
        do something again (None: not before the host acts; see ``ramcode.run``)."""
        again = ramcode.run(bench, t)
        self._collect(bench)
        return again

    def _collect(self, bench: Bench) -> None:
        """Frames that left the wired USART's TX pin, as the host's UART reads them, a latency later."""
        usart = bench.chip.peripherals.usart
        if usart is None:
            return
        if usart.reported != self.told:  # an unsupported setting stopped it: say so in the trace
            self.told = usart.reported
            if usart.reported:
                bench.record("uart", "in", 0, usart.now, usart.now, f"{usart.name} stopped: {usart.reported}")
        frames = usart.take_tx()
        if not frames:
            return
        latency = bench.board.uart_latency_us * 1000
        arrivals: list[tuple[int, int]] = []
        run: list[tuple[int, int]] = []
        for i, (value, start, framing, baud) in enumerate(frames):
            run.append((value, start))
            last = i + 1 == len(frames)
            if last or frames[i + 1][2:] != (framing, baud):
                host = self.framing if self.check_framing else framing
                arrivals += [(c.value, c.end_ns + latency) for c in transcode(run, framing, baud, host, self.baud)]
                run = []
        if self.rx and arrivals and arrivals[0][1] < self.rx[-1][1]:
            arrivals = sorted(self.rx + arrivals, key=lambda r: r[1])
            self.rx.clear()
        self.rx.extend(arrivals)
        end = arrivals[-1][1] if arrivals else frames[-1][1]
        bench.record("uart", "in", len(arrivals), frames[0][1], end, "from code in RAM")

    def wait_for(self, bench: Bench, n: int, now: int, deadline: int, *, give_up_idle: bool = False) -> int | None:
        """When the ``n``-th byte not yet taken reaches the host, if by ``deadline``; the device
        runs meanwhile, never past that moment. ``give_up_idle``: return None as soon as the device
        will send nothing more unless the host acts (the time does not move then)."""
        t = max(now, min(deadline, bench.clock.now))
        again = self.pump(bench, t)
        step = max(bench.board.uart_latency_us * 1000, STEP_FLOOR_NS)
        while True:
            if len(self.rx) >= n and self.rx[n - 1][1] <= deadline:
                at = max(now, self.rx[n - 1][1])
                self.pump(bench, at)
                return at
            if t >= deadline or (give_up_idle and again is None):
                return None
            # nothing can happen before ``again``; when code in RAM says nothing will happen at all
            # (None), it is still only taken a step at a time: it must not run past the byte awaited
            # should it be wrong (and the host's next write would then land in its past). The ROM,
            # or a chip running no code of ours, sends nothing unless the host acts: on to the deadline
            if again is None and not ramcode.running(bench):
                t = deadline
            elif again is None:
                t = min(deadline, t + step)
            else:
                t = min(deadline, max(t + step, again))
            again = self.pump(bench, t)

    def settle(self, bench: Bench, limit_ns: int) -> None:
        """A host on a pseudo-terminal gives no times: let code in RAM run until it waits for the
        host (or for ``limit_ns``), collecting what it sends meanwhile."""
        t = bench.clock.now
        end = t + limit_ns
        step = max(bench.board.uart_latency_us * 1000, STEP_FLOOR_NS)
        again: int | None = t
        while ramcode.running(bench) and t < end and again is not None:
            t = min(end, max(t + step, again))
            again = self.pump(bench, t)

    # -- the host's side ---------------------------------------------------------------------
    def arrived_by(self, t: int) -> int:
        """How many received bytes have reached the host by ``t``."""
        n = 0
        for _value, at in self.rx:
            if at > t:
                break
            n += 1
        return n

    def take(self, n: int) -> bytes:
        out, self.rx = self.rx[:n], self.rx[n:]
        return bytes(v for v, _at in out)


def _label(data: bytes) -> str:
    if len(data) == 1 and data[0] == bootloader.SYNC:
        return "0x7F"
    if len(data) == 2 and data[0] ^ data[1] == 0xFF:
        return bootloader.NAMES.get(data[0], f"command {data[0]:#04x}")
    return ""


def _in_progress(bench: Bench) -> str:
    """The command these bytes continue (address, length, data...), if the ROM is in one."""
    if not bootloader.present(bench):
        return ""
    buf = bootloader.state(bench)["buf"]
    return bootloader.NAMES.get(buf[0], "") if buf else ""


def _apply_faults(bench: Bench, sent: list[tuple[int, int]]) -> list[tuple[int, int]]:
    board = bench.board
    out = []
    for value, start in sent:
        board.uart_host_bytes += 1
        drop = board.faults.get("uart-drop-after")
        if drop is not None and board.uart_host_bytes >= drop:
            del board.faults["uart-drop-after"]
            continue
        corrupt = board.faults.get("uart-corrupt-after")
        if corrupt is not None and board.uart_host_bytes >= corrupt:
            del board.faults["uart-corrupt-after"]
            value ^= CORRUPT_MASK
        out.append((value, start))
    return out
