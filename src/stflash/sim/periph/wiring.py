"""Which USART and pins the bench's UART adapter is wired to, among those the chip's ROM listens on
(the chip row's ``bootloader.uart_pins``, AN2606: "USART1 PA9/PA10 or PB14/PB15; USART2 PA2/PA3").

A port is written as one instance and one pin pair, "USART2 PA2/PA3"; the first the ROM lists is
the default (USART1 PA9/PA10 on every part here)."""

from __future__ import annotations

import re

_ENTRY = re.compile(r"^\s*(US?ART\d+)\s+(.+?)\s*$", re.IGNORECASE)


def rom_ports(uart_pins: str) -> list[str]:
    """Every instance and pin pair ``uart_pins`` lists, one "USARTn PXa/PXb" each, in its order."""
    out: list[str] = []
    for entry in uart_pins.split(";"):
        m = _ENTRY.match(entry)
        if m is None:
            continue
        name = m.group(1).upper()
        for pins in re.split(r"\s+or\s+", m.group(2), flags=re.IGNORECASE):
            out.append(f"{name} {_pins(pins)}")
    return out


def choose_port(uart_pins: str, text: str) -> str | None:
    """The listed port ``text`` names ("usart2" alone: its first pin pair; case and spacing do not
    matter), or None when the ROM lists no such port."""
    words = text.split()
    if not words:
        return None
    name = words[0].upper()
    pins = _pins(" ".join(words[1:])) if len(words) > 1 else None
    for port in rom_ports(uart_pins):
        instance, pair = split_port(port)
        if instance == name and (pins is None or pins == pair):
            return port
    return None


def default_port(uart_pins: str) -> str:
    """The first port the ROM lists ("" when it has no UART bootloader)."""
    ports = rom_ports(uart_pins)
    return ports[0] if ports else ""


def split_port(port: str) -> tuple[str, str]:
    """"USART2 PA2/PA3" -> ("USART2", "PA2/PA3")."""
    name, _, pins = port.strip().partition(" ")
    return name.upper(), _pins(pins)


def _pins(text: str) -> str:
    """"pa2 / pa3" -> "PA2/PA3" (annotations such as "(TX)" dropped)."""
    text = re.sub(r"\([^)]*\)", "", text)
    return "/".join(p.strip().upper() for p in text.split("/"))
