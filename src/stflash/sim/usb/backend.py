"""A pyusb backend whose bus holds simulated devices.

``usb.core.find(backend=...)`` with this backend finds the bench's ST-LINK and DFU bootloader
exactly as libusb would find real ones, so any pyusb program (ours, pyOCD, pyfu-usb) talks to
the simulation unmodified. Errors are the ones libusb gives: a STALL is LIBUSB_ERROR_PIPE, a
device that left the bus is LIBUSB_ERROR_NO_DEVICE, an unanswered IN is a timeout.
"""

from __future__ import annotations

import array
from dataclasses import dataclass, field
from typing import Any, Protocol

import usb.backend
import usb.core

from ..faults import PowerLost
from .device import Gone, NoData, Setup, SimUsbDevice, Stall

LIBUSB_ERROR_NO_DEVICE = -4
LIBUSB_ERROR_BUSY = -6
LIBUSB_ERROR_TIMEOUT = -7
LIBUSB_ERROR_PIPE = -9
LIBUSB_ERROR_NOT_FOUND = -5
LIBUSB_ERROR_ACCESS = -3
LIBUSB_ERROR_NOT_SUPPORTED = -12

# How libusb_open fails when the host may not open a device: (libusb code, errno pyusb maps it to
# on Linux, libusb's text). "access": no udev rule on Linux; "not-supported": on Windows, a driver
# libusb cannot use (DfuSe's STTub30, ST's CubeProgrammer driver); "busy": another program has it.
OPEN_REFUSALS: dict[str, tuple[int, int, str]] = {
    "access": (LIBUSB_ERROR_ACCESS, 13, "Access denied (insufficient permissions)"),
    "not-supported": (LIBUSB_ERROR_NOT_SUPPORTED, 38, "Operation not supported or unimplemented on this platform"),
    "busy": (LIBUSB_ERROR_BUSY, 16, "Resource busy"),
}


class UsbHost(Protocol):
    """The bench side of the bus: which devices are present, and state/clock bookkeeping."""

    def present(self) -> list[SimUsbDevice]: ...

    def begin(self) -> None:
        """Called before any access: take the bench lock and load its state (re-entrant)."""

    def end(self) -> None:
        """Called after an access: save state and release the lock when the last user ends."""

    def account(self, device: SimUsbDevice, kind: str, direction: str, nbytes: int) -> None:
        """Advance the virtual clock for a transfer and record it in the trace."""


@dataclass
class _Handle:
    device: SimUsbDevice
    claimed: set[int] = field(default_factory=set)
    open: bool = True


def _error(message: str, code: int, errno: int | None = None) -> usb.core.USBError:
    if code == LIBUSB_ERROR_TIMEOUT:
        return usb.core.USBTimeoutError(message, code, errno or 110)
    return usb.core.USBError(message, code, errno)


def _no_device() -> usb.core.USBError:
    return _error("No such device (it may have been disconnected)", LIBUSB_ERROR_NO_DEVICE, 19)


def _pipe(stall: Stall) -> usb.core.USBError:
    return _error(f"Pipe error ({stall})", LIBUSB_ERROR_PIPE, 32)


# what a device model raises when it leaves the bus (PowerLost: a device the target powers, such
# as its DFU ROM, drops off with the target's supply)
_GONE = (Gone, PowerLost)


class SimBackend(usb.backend.IBackend):  # type: ignore[misc]
    """pyusb backend over a :class:`UsbHost`."""

    def __init__(self, host: UsbHost) -> None:
        self.host = host

    # -- enumeration --------------------------------------------------------------------------
    def enumerate_devices(self) -> Any:
        self.host.begin()
        try:
            devices = list(self.host.present())
        finally:
            self.host.end()
        yield from devices

    def get_device_descriptor(self, dev: SimUsbDevice) -> Any:
        return _DeviceView(dev)

    def get_configuration_descriptor(self, dev: SimUsbDevice, config: int) -> Any:
        if config != 0:
            raise _error("no such configuration", LIBUSB_ERROR_NOT_FOUND)
        return _ConfigView(dev)

    def get_interface_descriptor(self, dev: SimUsbDevice, intf: int, alt: int, config: int) -> Any:
        interfaces = _interfaces(dev, intf)
        if alt >= len(interfaces):
            raise IndexError("alternate setting out of range")
        return interfaces[alt]

    def get_endpoint_descriptor(self, dev: SimUsbDevice, ep: int, intf: int, alt: int, config: int) -> Any:
        interfaces = _interfaces(dev, intf)
        return interfaces[alt].endpoints[ep]

    def get_parent(self, dev: SimUsbDevice) -> None:
        return None

    # -- handles ------------------------------------------------------------------------------
    def open_device(self, dev: SimUsbDevice) -> _Handle:
        self.host.begin()
        found = self._find(dev)
        if found is None:
            self.host.end()
            raise _no_device()
        refusal = OPEN_REFUSALS.get(found.open_error or "")
        if refusal is not None:
            self.host.end()
            code, errno, text = refusal
            raise _error(text, code, errno)
        return _Handle(dev)

    def close_device(self, dev_handle: _Handle) -> None:
        if dev_handle.open:
            dev_handle.open = False
            self.host.end()

    def _find(self, dev: SimUsbDevice) -> SimUsbDevice | None:
        """The device as the bus has it now (re-enumeration keeps VID:PID:serial), or None."""
        return next((d for d in self.host.present() if d is dev or d.key == dev.key), None)

    def _live(self, handle: _Handle) -> SimUsbDevice:
        found = self._find(handle.device)
        if found is None:
            raise _no_device()
        handle.device = found
        return found

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        self._control(dev_handle, Setup(0x00, 9, config_value, 0, 0), b"")

    def get_configuration(self, dev_handle: _Handle) -> int:
        return self._control(dev_handle, Setup(0x80, 8, 0, 0, 1), b"")[0]

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        self._control(dev_handle, Setup(0x01, 11, altsetting, intf, 0), b"")

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        self._live(dev_handle)
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.claimed.discard(intf)

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return False

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        return None

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        return None

    def reset_device(self, dev_handle: _Handle) -> None:
        dev = self._live(dev_handle)
        dev.on_reset()

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        self._live(dev_handle)

    # -- transfers ----------------------------------------------------------------------------
    def ctrl_transfer(
        self,
        dev_handle: _Handle,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: Any,
        timeout: int,
    ) -> int:
        setup = Setup(bmRequestType, bRequest, wValue, wIndex, len(data) * data.itemsize)
        if setup.device_to_host:
            answer = self._control(dev_handle, setup, b"")[: setup.wLength]
            data[: len(answer)] = array.array("B", answer)
            return len(answer)
        self._control(dev_handle, setup, bytes(data))
        return setup.wLength

    def _control(self, handle: _Handle, setup: Setup, data: bytes) -> bytes:
        dev = self._live(handle)
        try:
            answer = dev.control(setup, data)
        except Stall as exc:
            self.host.account(dev, "control", "in" if setup.device_to_host else "out", setup.wLength)
            raise _pipe(exc) from None
        except _GONE:
            raise _no_device() from None
        self.host.account(
            dev,
            "control",
            "in" if setup.device_to_host else "out",
            len(answer) if setup.device_to_host else len(data),
        )
        return answer

    def bulk_write(self, dev_handle: _Handle, ep: int, intf: int, data: Any, timeout: int) -> int:
        dev = self._live(dev_handle)
        payload = bytes(data)
        try:
            dev.bulk_out(ep, payload)
        except Stall as exc:
            raise _pipe(exc) from None
        except _GONE:
            raise _no_device() from None
        finally:
            self.host.account(dev, "bulk", "out", len(payload))
        return len(payload)

    def bulk_read(self, dev_handle: _Handle, ep: int, intf: int, buff: Any, timeout: int) -> int:
        dev = self._live(dev_handle)
        want = len(buff) * buff.itemsize
        try:
            answer = dev.bulk_in(ep, want)
        except NoData:
            self.host.account(dev, "bulk", "in", 0)
            raise _error("Operation timed out", LIBUSB_ERROR_TIMEOUT) from None
        except Stall as exc:
            raise _pipe(exc) from None
        except _GONE:
            raise _no_device() from None
        answer = answer[:want]
        buff[: len(answer)] = array.array("B", answer)
        self.host.account(dev, "bulk", "in", len(answer))
        return len(answer)

    intr_write = bulk_write
    intr_read = bulk_read


def _interfaces(dev: SimUsbDevice, number: int) -> list[Any]:
    return [i for i in dev.configuration.interfaces if i.bInterfaceNumber == number]


class _DeviceView:
    """The device descriptor plus the bus facts pyusb reads from the same object."""

    def __init__(self, dev: SimUsbDevice) -> None:
        d = dev.descriptor
        for name in (
            "bLength",
            "bDescriptorType",
            "bcdUSB",
            "bDeviceClass",
            "bDeviceSubClass",
            "bDeviceProtocol",
            "bMaxPacketSize0",
            "idVendor",
            "idProduct",
            "bcdDevice",
            "iManufacturer",
            "iProduct",
            "iSerialNumber",
            "bNumConfigurations",
        ):
            setattr(self, name, getattr(d, name))
        self.bus = dev.bus
        self.address = dev.address
        self.port_number = dev.port_numbers[-1] if dev.port_numbers else None
        self.port_numbers = dev.port_numbers
        self.speed = dev.speed


class _ConfigView:
    def __init__(self, dev: SimUsbDevice) -> None:
        c = dev.configuration
        self.bLength = 9
        self.bDescriptorType = 2
        self.wTotalLength = c.wTotalLength
        self.bNumInterfaces = c.bNumInterfaces
        self.bConfigurationValue = c.bConfigurationValue
        self.iConfiguration = c.iConfiguration
        self.bmAttributes = c.bmAttributes
        self.bMaxPower = c.bMaxPower
        self.extra_descriptors = c.extra_descriptors
