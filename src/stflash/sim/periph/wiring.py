"""Which USART and pins the bench's UART adapter is wired to, among those the chip's ROM listens on
(the chip row's ``bootloader.uart_pins``, AN2606: "USART1 PA9/PA10 or PB14/PB15; USART2 PA2/PA3").

A port is written as one instance and one pin pair, "USART2 PA2/PA3"; the first the ROM lists is
the default (USART1 PA9/PA10 on every part here)."""

from __future__ import annotations

from ...chips.model import Bootloader, pin_pair


def rom_ports(bootloader: Bootloader) -> list[str]:
    """Every instance and pin pair the ROM lists, one "USARTn PXa/PXb" each, in its order."""
    return [f"{name} {pins}" for name, pins in bootloader.uart_ports()]


def choose_port(bootloader: Bootloader, text: str) -> str | None:
    """The listed port ``text`` names ("usart2" alone: its first pin pair; case and spacing do not
    matter), or None when the ROM lists no such port."""
    words = text.split()
    if not words:
        return None
    name = words[0].upper()
    pins = pin_pair(" ".join(words[1:])) if len(words) > 1 else None
    for instance, pair in bootloader.uart_ports():
        if instance == name and (pins is None or pins == pair):
            return f"{instance} {pair}"
    return None


def default_port(bootloader: Bootloader) -> str:
    """The first port the ROM lists ("" when it has no UART bootloader)."""
    ports = rom_ports(bootloader)
    return ports[0] if ports else ""


def split_port(port: str) -> tuple[str, str]:
    """"USART2 PA2/PA3" -> ("USART2", "PA2/PA3")."""
    name, _, pins = port.strip().partition(" ")
    return name.upper(), pin_pair(pins)
