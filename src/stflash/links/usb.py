"""USB enumeration through pyusb: the only place that touches libusb directly.

The backend is passed in by the caller, so the same code talks to real hardware (libusb from
libusb-package or the system) and to the virtual bench's pyusb backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UsbDevice:
    """What the bus says about one device, and whether we could open it to read its strings."""

    vid: int
    pid: int
    bcd_device: int
    bus: int | None
    address: int | None
    serial: str | None
    product: str | None
    open_error: str | None
    handle: Any = None  # the pyusb device, for links that go on to talk to it

    @property
    def location(self) -> str:
        return f"{self.bus}-{self.address}" if self.bus is not None else "?"


def system_backend() -> Any:
    """libusb from the libusb-package wheel, else the system's; None when neither loads."""
    try:
        import libusb_package

        backend = libusb_package.get_libusb1_backend()
        if backend is not None:
            return backend
    except Exception:  # a broken wheel must not stop the system libusb from being tried
        pass
    try:
        import usb.backend.libusb1

        return usb.backend.libusb1.get_backend()
    except Exception:
        return None


def enumerate_usb(backend: Any, match: dict[int, set[int]] | None = None) -> list[UsbDevice]:
    """Devices on the bus, optionally only those whose VID maps to one of the given PIDs."""
    import usb.core
    import usb.util

    found: list[UsbDevice] = []
    for dev in usb.core.find(find_all=True, backend=backend) or []:
        vid, pid = int(dev.idVendor), int(dev.idProduct)
        if match is not None and pid not in match.get(vid, set()):
            continue
        serial = product = error = None
        try:
            if dev.iSerialNumber:
                serial = usb.util.get_string(dev, dev.iSerialNumber)
            if dev.iProduct:
                product = usb.util.get_string(dev, dev.iProduct)
        except usb.core.USBError as exc:
            error = _describe_usb_error(exc)
        except (ValueError, NotImplementedError) as exc:  # no langid: usually no permission
            error = f"cannot read strings ({exc})"
        finally:
            usb.util.dispose_resources(dev)  # reading strings opened it; listing must not keep it
        found.append(
            UsbDevice(
                vid, pid, int(dev.bcdDevice), getattr(dev, "bus", None), getattr(dev, "address", None),
                serial, product, error, dev,
            )
        )
    return found


def _describe_usb_error(exc: Exception) -> str:
    errno = getattr(exc, "errno", None)
    if errno == 13:
        return "permission denied"
    if errno == 16:
        return "busy: claimed by another process"
    return str(exc)
