"""The chip's USB DFU system bootloader, on the bus only while the chip runs its bootloader."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..usb.device import SimUsbDevice

if TYPE_CHECKING:
    from ..bench import Bench
    from ..usb_host import BenchUsbHost


def dfu_present(bench: Bench) -> bool:
    """Is the DFU bootloader enumerated on the target's USB port now?"""
    return False


class DfuBootloaderDevice(SimUsbDevice):
    def __init__(self, host: BenchUsbHost) -> None:  # pragma: no cover - not on the bus yet
        raise NotImplementedError
