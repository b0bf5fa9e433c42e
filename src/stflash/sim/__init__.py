"""The virtual bench: simulated ST-LINK, DFU and UART bootloaders on simulated STM32s.

``pyusb_backend(DIR)`` returns a pyusb backend whose bus holds the bench's devices, so any pyusb
program finds them with ``usb.core.find(backend=...)``.
"""

from __future__ import annotations

import os
from typing import Any


def pyusb_backend(directory: str | os.PathLike[str]) -> Any:
    """A pyusb backend serving the USB devices of the bench in ``directory``."""
    from .usb.backend import SimBackend
    from .usb_host import BenchUsbHost

    return SimBackend(BenchUsbHost(directory))
