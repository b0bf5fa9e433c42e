"""The ``-c/--connect`` syntax: ``stlink[:SERIAL]``, ``dfu[:SERIAL]``, ``uart:PORT[:BAUD]``."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError

DEFAULT_BAUD = 115200
LINKS = ("stlink", "dfu", "uart")


@dataclass(frozen=True)
class ConnectSpec:
    """Which link, and optionally which device on it (serial number, or port and baud for UART)."""

    link: str
    serial: str | None = None
    port: str | None = None
    baud: int | str = DEFAULT_BAUD

    def __str__(self) -> str:
        if self.link == "uart":
            return f"uart:{self.port}:{self.baud}"
        return f"{self.link}:{self.serial}" if self.serial else self.link


def parse_connect(text: str) -> ConnectSpec:
    """Parse a connection string; errors name the option and show the accepted forms."""
    raw = text.strip()
    link, _, rest = raw.partition(":")
    link = link.lower()
    if link not in LINKS:
        raise UsageError(
            f"--connect {text!r}: unknown link {link!r}",
            hint="use stlink[:SERIAL], dfu[:SERIAL] or uart:PORT[:BAUD], e.g. -c uart:/dev/ttyUSB0:115200",
        )
    if link != "uart":
        return ConnectSpec(link, serial=rest or None)
    if not rest:
        raise UsageError(f"--connect {text!r}: uart needs a port", hint="e.g. -c uart:/dev/ttyUSB0 or -c uart:sim")
    port, baud_text = _split_port_baud(rest)
    baud: int | str = DEFAULT_BAUD
    if baud_text:
        if baud_text.lower() == "auto":
            baud = "auto"
        elif baud_text.isdigit() and int(baud_text) > 0:
            baud = int(baud_text)
        else:
            raise UsageError(f"--connect {text!r}: baud rate {baud_text!r} is not a number or 'auto'")
    return ConnectSpec("uart", port=port, baud=baud)


def _split_port_baud(rest: str) -> tuple[str, str]:
    """Split ``PORT[:BAUD]`` where PORT may itself contain colons (pyserial URLs, COM ports)."""
    if "://" in rest:  # pyserial URL, optionally followed by :BAUD
        head, _, tail = rest.rpartition(":")
        where = head.partition("://")[2].rpartition("]")[2]  # an [IPv6] host's colons do not count
        # scheme://host:port keeps its port; after host:port, or after a path (spy:///dev/ttyUSB0), a
        # last ":..." is the baud rate
        if ":" in where or "/" in where:
            return head, tail
        return rest, ""
    port, _, baud = rest.partition(":")
    return port, baud
