"""The ``open_port`` fixture: benches opened through the pyserial URL handler ``stflashsim://DIR``
(registered here for every test in this directory), closed after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from uart_programs import Opener

from stflash.sim.bench import Bench
from stflash.sim.uart import URL_HANDLER_PACKAGE

if URL_HANDLER_PACKAGE not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append(URL_HANDLER_PACKAGE)


@pytest.fixture
def open_port(tmp_path: Path) -> Iterator[Opener]:
    """``open_port(part, scenarios, create=, wiring=, uart_port=, **settings)``: a port on the
    bench ``tmp_path/part`` (made anew unless ``create=False``; its adapter's control lines wired as
    ``wiring`` says, on the USART ``uart_port`` names), 8E1 at 115200 with a 0.5 s timeout unless
    ``settings`` say otherwise."""
    ports: list[serial.SerialBase] = []

    def _open(part: str = "stm32f401re", scenarios: tuple[str, ...] = ("bootloader-only",), *,
              create: bool = True, wiring: str | None = None, uart_port: str | None = None,
              **settings: object) -> serial.SerialBase:
        d = tmp_path / part
        if create:
            Bench.create(d, part, scenarios=scenarios, uart_wiring=wiring, uart_port=uart_port, force=True)
        options = {"baudrate": 115200, "parity": "E", "timeout": 0.5, **settings}
        port = serial.serial_for_url(f"stflashsim://{d}", **options)
        ports.append(port)
        return port

    yield _open
    for port in ports:
        port.close()
