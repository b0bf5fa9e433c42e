"""Serve a bench's UART on a pseudo-terminal, for serial programs we did not write (stm32flash,
stm32loader, a terminal).

A pty carries bytes, not frames: the client's parity setting is not seen there, so the line is
taken to be what the ROM expects (8E1 at the baud rate the client set on the pty). Clients must use
8N1 mode (a pty refuses nothing, but it does not carry parity either). The bench lock is taken when
traffic arrives and released once the line has been idle for ``IDLE_S`` of wall time, so other
processes (``stflash sim set DIR boot0=1``) get their turn between bursts. The wall time the line
then stays idle passes on the virtual clock too when traffic resumes (a client started a while after
``sim set DIR nrst=0 nrst=1`` finds the ROM's start-up over, as on a board). With ``realtime`` the
answers are held back until wall time has caught up with the virtual clock; otherwise nothing
ever sleeps.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import termios
import time
import tty
from collections.abc import Callable
from contextlib import ExitStack
from types import FrameType

from ..bench import Bench
from .frames import NS_PER_S, ROM_FRAMING
from .line import UartLine

IDLE_S = 0.075  # wall time without traffic after which the bench is saved and unlocked
# A pty carries no times: after each burst, code in RAM (started by Go) runs until it waits for the
# client, for at most this much virtual time; what it sends meanwhile goes to the client.
SETTLE_NS = 1_000_000_000
DEFAULT_BAUD = 115200  # when the client left the pty at a rate termios cannot name
_RATES = (1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000,
          921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000)
_SPEEDS = {getattr(termios, f"B{rate}"): rate for rate in _RATES if hasattr(termios, f"B{rate}")}


def pty_baud(fd: int) -> int:
    """The baud rate the client set on the pty (its termios output speed)."""
    try:
        speed = termios.tcgetattr(fd)[5]
    except termios.error:
        return DEFAULT_BAUD
    return _SPEEDS.get(speed, DEFAULT_BAUD)


class PtyServer:
    """The bench's USART bootloader behind a pseudo-terminal."""

    def __init__(self, directory: str, *, realtime: bool = False) -> None:
        self.directory = directory
        self.realtime = realtime
        self.line = UartLine(check_framing=False)
        self.stop = False
        self._stack: ExitStack | None = None
        self.bench: Bench | None = None
        self._ram: tuple[tuple[int, int], dict[str, bytes]] | None = None
        self._anchor = (0.0, 0)  # (wall, virtual ns) at the start of a burst, for --realtime
        self._quiet: tuple[float, int] | None = None  # (wall, virtual ns) when the line last fell idle

    def open_pty(self) -> tuple[int, int, str]:
        master, slave = pty.openpty()
        tty.setraw(slave)  # no echo or line editing until the client sets its own mode
        return master, slave, os.ttyname(slave)

    def run(self, master: int, slave: int) -> int:
        """Serve until SIGTERM/SIGINT; returns the exit status (0)."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        previous = signal.set_wakeup_fd(wake_w)
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._open_bench()  # the line is idle from now: a reset before the first client counts
            self._close_bench()
            while not self.stop:
                timeout = IDLE_S if self.bench is not None else None
                ready, _, _ = select.select([master, wake_r], [], [], timeout)
                if wake_r in ready:
                    os.read(wake_r, 64)
                if self.stop:
                    break
                if master in ready:
                    try:
                        data = os.read(master, 4096)
                    except OSError:
                        continue  # no client has the slave open (we hold it: should not happen)
                    if data:
                        self._serve(master, slave, data)
                elif not ready:
                    self._close_bench()
        finally:
            self._close_bench()
            signal.set_wakeup_fd(previous)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            os.close(wake_r)
            os.close(wake_w)
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True

    # -- the bench, held for one burst of traffic ---------------------------------------------------
    def _open_bench(self) -> Bench:
        stack = ExitStack()
        bench = stack.enter_context(Bench.open(self.directory))
        self._stack, self.bench = stack, bench
        chip = bench.chip
        if self._ram is not None and self._ram[0] == (chip.reset_count, chip.clock.now):
            # nobody touched the chip since our last burst: its RAM still holds what the host
            # wrote there (needed where the bench files do not keep the RAM)
            for name, data in self._ram[1].items():
                chip.ram_regions[name][:] = data
        self._pass_idle_time(bench)
        now = chip.clock.now
        self.line.host_free = max(self.line.host_free, now)
        self._anchor = (time.monotonic(), now)
        return bench

    def _pass_idle_time(self, bench: Bench) -> None:
        """The wall time since the line fell idle passes on the virtual clock (at least: others may
        have moved it further meanwhile); the ROM's start-up after a reset pressed then is over.
        A gap under IDLE_S (a client starting, or thinking between commands) is no pause and
        costs nothing, so a tool's measured time does not depend on how fast this machine is."""
        if self._quiet is None:
            self._quiet = (time.monotonic(), bench.clock.now)
            return
        wall, virtual = self._quiet
        gap = time.monotonic() - wall
        if gap < IDLE_S:
            return
        idle = virtual + round(gap * NS_PER_S) - bench.clock.now
        if idle > 0:
            bench.host_wait(idle)

    def _close_bench(self) -> None:
        if self._stack is None or self.bench is None:
            return
        chip = self.bench.chip
        self._ram = ((chip.reset_count, chip.clock.now), {k: bytes(v) for k, v in chip.ram_regions.items()})
        stack, self._stack, self.bench = self._stack, None, None
        stack.close()

    def _serve(self, master: int, slave: int, data: bytes) -> None:
        bench = self.bench if self.bench is not None else self._open_bench()
        clock = bench.clock
        if self.realtime:
            clock.advance_to(self._virtual_now())
        self.line.send(bench, data, clock.now, ROM_FRAMING, pty_baud(slave))
        self.line.settle(bench, SETTLE_NS)
        answer, self.line.rx = self.line.rx, []
        if answer:
            arrival = answer[-1][1]
            if self.realtime:
                self._sleep_until(arrival)
            _write_all(master, bytes(v for v, _at in answer))
            clock.advance_to(arrival)  # the host has the answer now
        self._quiet = (time.monotonic(), clock.now)

    def _virtual_now(self) -> int:
        wall, virtual = self._anchor
        return virtual + round((time.monotonic() - wall) * NS_PER_S)

    def _sleep_until(self, virtual_ns: int, sleep: Callable[[float], None] = time.sleep) -> None:
        wall, virtual = self._anchor
        delay = wall + (virtual_ns - virtual) / NS_PER_S - time.monotonic()
        if delay > 0:
            sleep(delay)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        data = data[written:]
