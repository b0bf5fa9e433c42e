import pytest

from stflash.connect import ConnectSpec, parse_connect
from stflash.errors import UsageError


@pytest.mark.parametrize(
    "text, spec",
    [
        ("stlink", ConnectSpec("stlink")),
        ("stlink:066DFF555185754867", ConnectSpec("stlink", serial="066DFF555185754867")),
        ("dfu", ConnectSpec("dfu")),
        ("DFU:3654386E3131", ConnectSpec("dfu", serial="3654386E3131")),
        ("uart:/dev/ttyUSB0", ConnectSpec("uart", port="/dev/ttyUSB0", baud=115200)),
        ("uart:/dev/ttyUSB0:57600", ConnectSpec("uart", port="/dev/ttyUSB0", baud=57600)),
        ("uart:COM3:921600", ConnectSpec("uart", port="COM3", baud=921600)),
        ("uart:sim", ConnectSpec("uart", port="sim")),
        ("uart:/dev/ttyUSB0:auto", ConnectSpec("uart", port="/dev/ttyUSB0", baud="auto")),
        ("uart:rfc2217://localhost:7000", ConnectSpec("uart", port="rfc2217://localhost:7000")),
        ("uart:rfc2217://localhost:7000:115200", ConnectSpec("uart", port="rfc2217://localhost:7000", baud=115200)),
        ("uart:spy:///dev/ttyUSB0", ConnectSpec("uart", port="spy:///dev/ttyUSB0")),
        ("uart:spy:///dev/ttyUSB0:57600", ConnectSpec("uart", port="spy:///dev/ttyUSB0", baud=57600)),
        ("uart:loop://", ConnectSpec("uart", port="loop://")),
        ("uart:socket://[::1]:7000", ConnectSpec("uart", port="socket://[::1]:7000")),
        ("uart:socket://[::1]:7000:9600", ConnectSpec("uart", port="socket://[::1]:7000", baud=9600)),
    ],
)
def test_parse_connect(text: str, spec: ConnectSpec) -> None:
    assert parse_connect(text) == spec


@pytest.mark.parametrize("text", ["jlink", "uart", "uart:", "uart:/dev/ttyUSB0:fast", ""])
def test_parse_connect_rejects(text: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_connect(text)
    assert "--connect" in exc.value.message
