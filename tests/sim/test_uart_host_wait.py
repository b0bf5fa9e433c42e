"""A host that waits outside the serial port (stflash's sleep on the bench moves the bench clock)
has spent that time on the port's side too: the reset it released has finished, the next byte goes
out after the wait, and a read's timeout counts from there."""

from __future__ import annotations

from pathlib import Path

import serial

from stflash.sim.bench import Bench

ACK = b"\x79"


def test_a_wait_between_reset_and_sync_counts_for_the_port(tmp_path: Path) -> None:
    d = tmp_path / "b"
    Bench.create(d, "nucleo-f401re", uart_wiring="dtr=!nrst,rts=!boot0")
    port = serial.serial_for_url(f"stflashsim://{d}", baudrate=115200, parity="E", timeout=0.5)
    try:
        port.rts = False  # BOOT0 high (the wiring inverts RTS)
        port.dtr = True   # NRST low (inverted too)
        port.dtr = False  # released: the ROM starts
        with Bench.open(d) as b:  # the same bench the open port holds
            released = b.clock.now
            b.host_wait(1_000_000_000)  # the host sleeps a second, as session.host_sleep does
        port.write(b"\x7f")
        assert port.read(1) == ACK
        with Bench.open(d) as b:
            answered = b.clock.now
        # the 0x7F left after the wait; its ACK came two characters and the adapter's 1 ms later
        assert 1_000_000_000 < answered - released < 1_002_000_000
        port.write(b"\x00\xff")  # Get, right after: answered without a stale timeout in between
        assert port.read(1) == ACK
    finally:
        port.close()
