"""The bench seen from USB: which devices are on the bus now, and what each transfer costs.

Every pyusb call first takes the bench lock and loads the state (re-entrant, so a program that
holds a device open keeps the bench to itself until it closes it), and saves it afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack

from .bench import Bench
from .dfu.device import DfuBootloaderDevice, dfu_present
from .dfu.runtime import DfuRuntimeDevice, runtime_present
from .stlink.usb_device import StlinkUsbDevice
from .usb.device import SimUsbDevice
from .usb.timing import UsbTiming


class BenchUsbHost:
    """A :class:`stflash.sim.usb.backend.UsbHost` over a bench directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = directory
        self._depth = 0
        self._stack: ExitStack | None = None
        self.bench: Bench | None = None
        self._devices: dict[str, SimUsbDevice] = {}

    def begin(self) -> None:
        if self._depth == 0:
            stack = ExitStack()
            self.bench = stack.enter_context(Bench.open(self.directory))
            self._stack = stack
        self._depth += 1

    def end(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()
            self.bench = None

    def present(self) -> list[SimUsbDevice]:
        bench = self._bench()
        out: list[SimUsbDevice] = []
        if bench.board.usb_unplugged:
            return out
        if bench.board.probe:
            out.append(self._device("stlink", lambda: StlinkUsbDevice(self)))
        if dfu_present(bench):
            out.append(self._device("dfu", lambda: DfuBootloaderDevice(self)))
        else:
            self._devices.pop("dfu", None)  # left the bus: the next enumeration is a new device
        if runtime_present(bench):
            out.append(self._device("dfu-runtime", lambda: DfuRuntimeDevice(self)))
        else:
            self._devices.pop("dfu-runtime", None)
        for dev in out:  # the target's own USB port: may this host open what is plugged in there?
            if isinstance(dev, (DfuBootloaderDevice, DfuRuntimeDevice)):
                dev.open_error = bench.board.target_usb_open or None
        return out

    def _device(self, key: str, make: Callable[[], SimUsbDevice]) -> SimUsbDevice:
        dev = self._devices.get(key)
        if dev is None:
            dev = self._devices[key] = make()
        return dev

    def account(self, device: SimUsbDevice, kind: str, direction: str, nbytes: int) -> None:
        bench = self._bench()
        timing = UsbTiming.for_speed(device.speed)
        start = bench.clock.now
        end = timing.control_end(start, nbytes) if kind == "control" else timing.bulk_end(start, nbytes)
        bench.clock.advance_to(end)
        bench.record("usb", direction, nbytes, start, end, f"{kind} {device.descriptor.idProduct:04x}")
        bench.usb_transfer_done()

    def _bench(self) -> Bench:
        if self.bench is None:
            raise RuntimeError("bench accessed outside begin()/end()")
        return self.bench
