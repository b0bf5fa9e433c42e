"""pyserial URL handler ``stflashsim://<bench dir>``: the bench's UART as a serial port, in process.

    import serial
    serial.protocol_handler_packages.append("stflash.sim.uart")
    port = serial.serial_for_url("stflashsim://bench", baudrate=115200, parity="E", timeout=0.5)

The port holds the bench (one lock, one load and one save) from ``open()`` to ``close()``. Nothing
sleeps: the host's reads and waits advance the bench's virtual clock. A read returns as soon as
the bytes asked for have reached the host; when the device will not send them in time, the clock
advances by the timeout and the read returns what there is (timeout=None and nothing more coming:
``SerialException``, where a real port would block forever). A non-blocking read (timeout=0) and
``in_waiting`` let an answer that is already on its way arrive.

The host's line settings matter as on a real wire: the ROM speaks 8E1 at the rate it measured on
0x7F, and a host using another format or rate hears (and is heard as) what a USART would sample
(see ``frames.py``). RTS/DTR drive NRST/BOOT0 as ``board.uart_wiring`` says; the tty layer asserts
both lines when the port opens and drops them when it closes (HUPCL), as on Linux.

After a Go into RAM the code there runs on the chip's core whenever the host's time moves (a read,
a wait, a flush, a line change) and talks through USART1; ``in_waiting`` and a non-blocking read
let its time run until the next byte arrives or it waits for the host, as a host polling a real
port would see.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

import serial

from ...errors import UsageError
from ..bench import Bench
from ..scenarios import FTDI_LATENCY_US, LOW_LATENCY_US
from .frames import NS_PER_S, Framing
from .line import RUN_AWAY_NS, UartLine

SCHEME = "stflashsim://"
HUPCL = True  # the tty layer drops DTR and RTS on close (Linux default termios)


def bench_dir(url: str) -> str:
    """``stflashsim://DIR`` -> DIR (relative or absolute; a query string is ignored)."""
    if not url.lower().startswith(SCHEME):
        raise serial.SerialException(f"expected a URL of the form {SCHEME}<bench dir>, not {url!r}")
    path = url[len(SCHEME) :].split("?", 1)[0]
    if not path:
        raise serial.SerialException(f"{url!r} names no bench directory")
    return path


class Serial(serial.SerialBase):  # type: ignore[misc]
    """A serial port whose other end is the bench's USART bootloader."""

    is_open: bool

    def open(self) -> None:
        if self._port is None:
            raise serial.SerialException("Port must be configured before it can be used.")
        if self.is_open:
            raise serial.SerialException("Port is already open.")
        stack = ExitStack()
        try:
            self._bench: Bench = stack.enter_context(Bench.open(os.fspath(bench_dir(self._port))))
        except UsageError as exc:
            stack.close()
            raise serial.SerialException(f"{self._port}: {exc}") from None
        self._stack = stack
        now = self._bench.clock.now
        self._host_ns = now
        self._clock_mark = now  # the bench clock when this port last looked at it
        self._line = UartLine(host_free=now, dev_free=now)
        self._break_start = now
        self.is_open = True
        self._reconfigure_port()
        if not self._dsrdtr:
            self._update_dtr_state()
        if not self._rtscts:
            self._update_rts_state()

    def close(self) -> None:
        if not self.is_open:
            return
        if HUPCL:
            self._rts_state = self._dtr_state = False
            self._update_dtr_state()
            self._update_rts_state()
        self._sync_clock()
        self.is_open = False
        self._stack.close()

    def _reconfigure_port(self, *args: Any) -> None:
        if self._bytesize not in (5, 6, 7, 8):
            raise ValueError(f"bytesize {self._bytesize!r}")
        self._framing = Framing(int(self._bytesize), str(self._parity), float(self._stopbits))
        self._line.listen(self._framing, int(self._baudrate))

    # -- time ---------------------------------------------------------------------------------
    def _sync_clock(self) -> None:
        self._line.pump(self._bench, self._host_ns)  # the device (code in RAM) runs up to the host's time
        self._clock_mark = self._bench.clock.now

    def _catch_up(self) -> None:
        """A wait the host program did outside the port (``Bench.host_wait``, how stflash sleeps on
        the bench) is time the host spent as well: what arrived meanwhile is there to read, and the
        next byte and the next timeout start after it, not before."""
        now = self._bench.clock.now
        if now > self._clock_mark:
            self._host_ns += now - self._clock_mark
        self._clock_mark = now

    def _check_open(self) -> None:
        if not self.is_open:
            raise serial.PortNotOpenError()
        self._catch_up()

    def _let_arrive(self) -> int:
        """Bytes the host has now; if none yet but some are on their way (or code in RAM is still
        busy), wait for the first."""
        line = self._line
        n = line.arrived_by(self._host_ns)
        if n == 0:
            clock = self._bench.clock
            before = max(clock.now, self._host_ns)
            at = line.wait_for(self._bench, 1, self._host_ns, self._host_ns + RUN_AWAY_NS, give_up_idle=True)
            if at is None and clock.now > before:
                at = clock.now  # a host polling the port spent the time the code ran before it went quiet
            if at is None and line.rx:  # sent before the device went quiet: still on its way
                at = line.wait_for(self._bench, 1, self._host_ns, line.rx[0][1])
            if at is not None:
                self._host_ns = max(self._host_ns, at)
            n = line.arrived_by(self._host_ns)
        return n

    # -- data -----------------------------------------------------------------------------------
    @property
    def in_waiting(self) -> int:
        self._check_open()
        n = self._let_arrive()
        self._sync_clock()
        return n

    def read(self, size: int = 1) -> bytes:
        self._check_open()
        line = self._line
        if size <= 0:
            return b""
        if self._timeout is None:
            at = line.wait_for(self._bench, size, self._host_ns, self._host_ns + RUN_AWAY_NS, give_up_idle=True)
            if at is None and len(line.rx) >= size:
                at = line.wait_for(self._bench, size, self._host_ns, line.rx[size - 1][1])
            if at is None:
                raise serial.SerialException(
                    f"read({size}) without timeout: the device has sent {len(line.rx)} byte(s) and will "
                    "send nothing more (a real port would block forever)")
            self._host_ns = max(self._host_ns, at)
            n = size
        elif self._timeout == 0:
            n = min(size, self._let_arrive())
        else:
            deadline = self._host_ns + round(self._timeout * NS_PER_S)
            at = line.wait_for(self._bench, size, self._host_ns, deadline)
            n = size if at is not None else min(size, line.arrived_by(deadline))
            self._host_ns = max(self._host_ns, at if at is not None else deadline)
        data = line.take(n)
        self._sync_clock()
        return data

    def write(self, data: Any) -> int:
        self._check_open()
        payload = bytes(memoryview(data).cast("B")) if not isinstance(data, bytes) else data
        self._line.send(self._bench, payload, self._host_ns, self._framing, int(self._baudrate))
        self._clock_mark = self._bench.clock.now
        return len(payload)

    def flush(self) -> None:
        self._check_open()
        self._host_ns = max(self._host_ns, self._line.host_free)
        self._sync_clock()

    def reset_input_buffer(self) -> None:
        self._check_open()
        self._sync_clock()
        self._line.take(self._line.arrived_by(self._host_ns))

    def reset_output_buffer(self) -> None:
        self._check_open()  # written bytes are already on the wire

    def send_break(self, duration: float = 0.25) -> None:
        self._check_open()
        self._line.send_break(self._bench, self._host_ns, round(duration * NS_PER_S), self._framing,
                              int(self._baudrate))
        self._host_ns = max(self._host_ns, self._line.host_free)
        self._sync_clock()

    def _update_break_state(self) -> None:
        self._check_open()
        if self._break_state:
            self._break_start = self._host_ns
        else:
            span = max(self._host_ns - self._break_start, 2 * self._framing.char_ns(int(self._baudrate)))
            self._line.send_break(self._bench, self._break_start, span, self._framing, int(self._baudrate))

    # -- modem lines ------------------------------------------------------------------------------
    def _update_rts_state(self) -> None:
        self._drive("rts", bool(self._rts_state))

    def _update_dtr_state(self) -> None:
        self._drive("dtr", bool(self._dtr_state))

    def _drive(self, line: str, asserted: bool) -> None:
        if not self.is_open:
            return
        wiring = self._bench.board.uart_wiring
        pin = getattr(wiring, line)
        if pin is None:
            return
        self._catch_up()
        high = not asserted if getattr(wiring, f"{line}_invert") else asserted
        self._sync_clock()
        # NRST low holds the chip in reset; releasing it resets with the BOOT0 level now on the pin
        self._bench.set(pin, "1" if high else "0")
        self._clock_mark = self._bench.clock.now

    @property
    def cts(self) -> bool:
        self._check_open()
        return False

    @property
    def dsr(self) -> bool:
        self._check_open()
        return False

    @property
    def ri(self) -> bool:
        self._check_open()
        return False

    @property
    def cd(self) -> bool:
        self._check_open()
        return False

    # -- adapter ----------------------------------------------------------------------------------
    def set_low_latency_mode(self, low_latency_settings: bool) -> None:
        """ASYNC_LOW_LATENCY: ftdi_sio sets the latency timer to 1 ms (and back to 16 ms)."""
        self._check_open()
        board = self._bench.board
        if low_latency_settings:
            board.uart_latency_us = LOW_LATENCY_US
        elif "ftdi-latency" in board.scenarios:
            board.uart_latency_us = FTDI_LATENCY_US
