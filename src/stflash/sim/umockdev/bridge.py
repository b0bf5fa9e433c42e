"""The bench side of ``stflash sim run``: the bench's USB bus, answered one transfer at a time.

The testbed side sends what the program put in its URBs; this side runs them on the bench's device
models (:class:`~stflash.sim.usb_host.BenchUsbHost`, the host the pyusb backend uses, so devices,
descriptors, serials, errors and the virtual clock are the same), and says when the set of devices
on the bus changed so the testbed can plug or unplug nodes.

As with pyusb, the bench stays loaded (and locked) while the program holds a device node open, and
is saved when it closes the last one.

Time: the bench runs on its virtual clock, which each transfer advances; but a compiled program
waits in wall-clock time (st-flash gives its flash loader 500 ms, polling every 10 ms), during
which the board must keep working. So the board's clock is never let run behind the program's:
before each request, the wall-clock time since the first one is a floor for the virtual clock
(the gap counts as the host waiting, as :meth:`~stflash.sim.bench.Bench.host_wait` models it).
"""

from __future__ import annotations

import errno
import os
import struct
import sys
import time
from typing import Any

from ..faults import PowerLost
from ..usb.device import Gone, NoData, Setup, SimUsbDevice, Stall
from ..usb_host import BenchUsbHost
from .records import device_record

Reply = tuple[dict[str, Any], bytes]

STALL = -errno.EPIPE
NO_DEVICE = errno.ENODEV
WALL_CLOCK_FLOOR = True  # POLICY: the board's time keeps up with the program's wall clock (see above)
MIN_CATCH_UP_NS = 100_000  # smaller lags are left for the next request


class BenchBridge:
    """Serves the testbed side's requests on one bench."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.host = BenchUsbHost(directory)
        self.open_count = 0
        self.bus: list[str] = []  # keys of the devices on the bus when last looked
        self.start: tuple[int, int] | None = None  # (wall ns, virtual ns) at the first request

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, header: dict[str, Any], payload: bytes) -> Reply:
        op = str(header.get("op", ""))
        method = getattr(self, f"op_{op}", None)
        if method is None:
            return {"error": f"unknown request {op!r}"}, b""
        self.host.begin()
        try:
            self._keep_up()
            reply: Reply = method(header, payload)
            keys = [d.key for d in self.host.present()]
        except Exception as exc:  # a bench bug: the program sees an I/O error, the user a message
            sys.stderr.write(f"stflash sim run: bench error on {op}: {type(exc).__name__}: {exc}\n")
            return {"status": -errno.EPROTO, "errno": errno.EIO}, b""
        finally:
            self.host.end()
        if keys != self.bus:
            self.bus = keys
            reply[0]["bus_changed"] = True
        return reply

    def _keep_up(self) -> None:
        bench = self.host.bench
        if bench is None or not WALL_CLOCK_FLOOR:
            return
        if self.start is None:
            self.start = (time.monotonic_ns(), bench.clock.now)
        wall0, virtual0 = self.start
        lag = virtual0 + (time.monotonic_ns() - wall0) - bench.clock.now
        if lag >= MIN_CATCH_UP_NS:
            bench.host_wait(lag)

    def close(self) -> None:
        """The program ended: release what it left open (the bench is saved)."""
        while self.open_count:
            self.open_count -= 1
            self.host.end()

    # -- the bus -----------------------------------------------------------------------------------
    def _find(self, key: str) -> SimUsbDevice | None:
        return next((d for d in self.host.present() if d.key == key), None)

    def op_devices(self, header: dict[str, Any], payload: bytes) -> Reply:
        present = self.host.present()
        self.bus = [d.key for d in present]
        return {"devices": [device_record(d) for d in present]}, b""

    def op_open(self, header: dict[str, Any], payload: bytes) -> Reply:
        """A client opened a node: keep the bench loaded until it closes it (as a pyusb handle)."""
        self.host.begin()
        self.open_count += 1
        return {"present": self._find(str(header["key"])) is not None}, b""

    def op_close(self, header: dict[str, Any], payload: bytes) -> Reply:
        if self.open_count:
            self.open_count -= 1
            self.host.end()
        return {}, b""

    # -- requests on a device ----------------------------------------------------------------------
    def op_control(self, header: dict[str, Any], payload: bytes) -> Reply:
        """One control transfer: ``setup`` (8 bytes, hex) and the OUT data as payload. Answers a
        URB status (0 or -EPIPE) and the IN data, or ``errno`` ENODEV when the device is gone."""
        dev = self._find(str(header["key"]))
        if dev is None:
            return {"errno": NO_DEVICE}, b""
        raw = bytes.fromhex(str(header["setup"]))
        setup = Setup(raw[0], raw[1], *struct.unpack("<HHH", raw[2:8]))
        direction = "in" if setup.device_to_host else "out"
        out = b"" if setup.device_to_host else payload[: setup.wLength]
        try:
            answer = dev.control(setup, out)
        except Stall:
            self.host.account(dev, "control", direction, setup.wLength)
            return {"status": STALL}, b""
        except (Gone, PowerLost):
            return {"errno": NO_DEVICE}, b""
        if setup.device_to_host:
            answer = answer[: setup.wLength]
            self.host.account(dev, "control", direction, len(answer))
            return {"status": 0}, answer
        self.host.account(dev, "control", direction, len(out))
        return {"status": 0, "actual": len(out)}, b""

    def op_bulk_out(self, header: dict[str, Any], payload: bytes) -> Reply:
        dev = self._find(str(header["key"]))
        if dev is None:
            return {"errno": NO_DEVICE}, b""
        try:
            dev.bulk_out(int(header["ep"]), payload)
        except Stall:
            return {"status": STALL}, b""
        except (Gone, PowerLost):
            return {"errno": NO_DEVICE}, b""
        finally:
            self.host.account(dev, "bulk", "out", len(payload))
        return {"status": 0, "actual": len(payload)}, b""

    def op_bulk_in(self, header: dict[str, Any], payload: bytes) -> Reply:
        """An IN transfer: the data, or ``pending`` while the device has none (the URB waits, as on
        a real bus, until the program reaps it later or gives up)."""
        dev = self._find(str(header["key"]))
        if dev is None:
            return {"errno": NO_DEVICE}, b""
        try:
            answer = dev.bulk_in(int(header["ep"]), int(header["length"]))
        except NoData:
            return {"pending": True}, b""
        except Stall:
            return {"status": STALL}, b""
        except (Gone, PowerLost):
            return {"errno": NO_DEVICE}, b""
        answer = answer[: int(header["length"])]
        self.host.account(dev, "bulk", "in", len(answer))
        return {"status": 0}, answer

    def op_discard(self, header: dict[str, Any], payload: bytes) -> Reply:
        """The program gave up on a pending IN transfer (its timeout): the bus time it waited."""
        dev = self._find(str(header["key"]))
        if dev is not None:
            self.host.account(dev, "bulk", "in", 0)
        return {}, b""

    def op_reset(self, header: dict[str, Any], payload: bytes) -> Reply:
        dev = self._find(str(header["key"]))
        if dev is None:
            return {"errno": NO_DEVICE}, b""
        dev.on_reset()
        return {}, b""

    def op_check(self, header: dict[str, Any], payload: bytes) -> Reply:
        """Is the device still on the bus (claim, clear-halt and the like need nothing more)?"""
        dev = self._find(str(header["key"]))
        if dev is None:
            return {"errno": NO_DEVICE}, b""
        interface = header.get("interface")
        if interface is not None and all(i.bInterfaceNumber != interface for i in dev.configuration.interfaces):
            return {"errno": errno.ENOENT}, b""
        return {}, b""
