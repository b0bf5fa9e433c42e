"""The bench's ST-LINK as USB shows it."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ..usb.device import SimUsbDevice
from ..usb.stlink_identity import stlink_descriptors

if TYPE_CHECKING:
    from ..bench import Bench
    from ..usb_host import BenchUsbHost


def probe_serial(bench: Bench) -> bytes:
    """The probe's 12-byte serial (its own STM32's unique id), stable for a bench."""
    return hashlib.sha256(f"stflash-probe:{bench.board.part}:{bench.board.seed}".encode()).digest()[:12]


class StlinkUsbDevice(SimUsbDevice):
    """Descriptors only for now; the command set is served by the ST-LINK model.

    The bench is reached through ``host.bench`` on every call (it is reloaded per access), never
    kept from construction.
    """

    def __init__(self, host: BenchUsbHost) -> None:
        bench = host.bench
        assert bench is not None
        device, config, strings, speed = stlink_descriptors(bench.board.probe, probe_serial(bench))
        super().__init__(device, config, strings, speed=speed, bus=1, address=2)
        self.host = host
