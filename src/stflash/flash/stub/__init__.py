"""The UART stub: code the host starts with the USART bootloader's Go to flash at the wire's speed
(``stub.S``; its wire protocol is ``links/uart/stub.py``)."""

from __future__ import annotations

import importlib.resources


def stub_code() -> bytes:
    """The assembled stub (``stub.bin``, rebuilt from ``stub.S`` by ``build.py``)."""
    return importlib.resources.files(__package__).joinpath("stub.bin").read_bytes()
