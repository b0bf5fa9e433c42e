"""USB enumeration through pyusb: the only place that touches libusb directly.

The backend is passed in by the caller, so the same code talks to real hardware (libusb from
libusb-package or the system) and to the virtual bench's pyusb backend. A device that will not open
is named with the reason libusb gave and what fixes it on this platform (:func:`open_problem`).
"""

from __future__ import annotations

import contextlib
import errno
import sys
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
    problem: OpenProblem | None  # why it could not be opened, and the fix on this system
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

    found: list[UsbDevice] = []
    for dev in usb.core.find(find_all=True, backend=backend) or []:
        vid, pid = int(dev.idVendor), int(dev.idProduct)
        if match is None or pid in match.get(vid, set()):
            found.append(describe(dev))
    return found


def describe(dev: Any) -> UsbDevice:
    """One pyusb device with its strings (reading them opens it: see :func:`read_strings`)."""
    serial, product, problem = read_strings(dev)
    return UsbDevice(int(dev.idVendor), int(dev.idProduct), int(dev.bcdDevice), getattr(dev, "bus", None),
                     getattr(dev, "address", None), serial, product, problem, dev)


def read_strings(dev: Any) -> tuple[str | None, str | None, OpenProblem | None]:
    """Serial number and product string; reading them opens the device, so a device this user
    (or this driver) may not open shows up here with the reason."""
    import usb.core
    import usb.util

    serial = product = None
    problem: OpenProblem | None = None
    vid, pid = int(dev.idVendor), int(dev.idProduct)
    try:
        # asked directly, not through dev.langids, which turns an open error into "no langid"
        try:
            langids = usb.util.get_langids(dev)
        except usb.core.USBError as exc:
            if not is_stall(exc):
                raise
            langids = ()  # string 0 stalled: a device without strings
        langid = langids[0] if langids else None
        if dev.iSerialNumber and langid is not None:
            serial = usb.util.get_string(dev, dev.iSerialNumber, langid)
        if dev.iProduct and langid is not None:
            product = usb.util.get_string(dev, dev.iProduct, langid)
    except usb.core.USBError as exc:
        problem = open_problem(exc, vid, pid)
    except (ValueError, NotImplementedError) as exc:  # no langid: usually no permission
        problem = OpenProblem("other", f"cannot read strings ({exc})", None)
    finally:
        with contextlib.suppress(Exception):
            usb.util.dispose_resources(dev)  # reading strings opened it; listing must not keep it
    return serial, product, problem


# -- why a device cannot be opened ----------------------------------------------------------------
# libusb error codes (libusb.h) and the errno values pyusb maps them to
LIBUSB_ERROR_ACCESS = -3
LIBUSB_ERROR_NO_DEVICE = -4
LIBUSB_ERROR_NOT_FOUND = -5
LIBUSB_ERROR_BUSY = -6
LIBUSB_ERROR_PIPE = -9
LIBUSB_ERROR_NOT_SUPPORTED = -12
EACCES, EBUSY, ENODEV, EPIPE = errno.EACCES, errno.EBUSY, errno.ENODEV, errno.EPIPE
ENOSYS = errno.ENOSYS  # 38 on Linux, 40 with the Windows C runtime: what pyusb maps NOT_SUPPORTED to


def is_stall(exc: BaseException) -> bool:
    """The device STALLed the request (LIBUSB_ERROR_PIPE)."""
    return getattr(exc, "errno", None) == EPIPE or getattr(exc, "backend_error_code", None) == LIBUSB_ERROR_PIPE


def is_gone(exc: BaseException) -> bool:
    """The device left the bus (LIBUSB_ERROR_NO_DEVICE)."""
    return getattr(exc, "errno", None) == ENODEV or getattr(exc, "backend_error_code", None) == LIBUSB_ERROR_NO_DEVICE


# What a host platform needs before libusb may open a device (dfu.md §3.4; field notes #6, #7).
WINDOWS_DRIVER_FIX = (
    "Windows has a driver on {id} that libusb cannot open (DfuSe's STTub30, or on some systems the DFU driver "
    "STM32CubeProgrammer installs): install WinUSB for it with Zadig (Options > List All Devices, choose the "
    "device, WinUSB, Replace Driver; libusb-win32 also works), then replug. Windows keeps one driver per "
    "device: with WinUSB, DfuSe Demo no longer lists it"
)
WINDOWS_ACCESS_FIX = (
    "on Windows this means another program has {id} open (STM32CubeProgrammer, DfuSe, dfu-util): close it; "
    "if none does, its driver is not WinUSB: replace it with Zadig (WinUSB), then replug"
)
BUSY_FIX = "another program holds {id} (STM32CubeProgrammer, dfu-util, OpenOCD, a debugger): close it"


@dataclass(frozen=True)
class OpenProblem:
    """Why libusb could not open a device, for a person: what it means and what to do here."""

    kind: str  # "permission" | "driver" | "busy" | "gone" | "other"
    text: str
    fix: str | None


def host_platform() -> str:
    """``sys.platform``: the fix for a device that will not open depends on it."""
    return sys.platform


def udev_rule(vid: int, pid: int) -> str:
    """The udev line that lets the user logged in at the seat open one device (``uaccess``), the
    form ``stflash udev-rules`` writes for every probe and the DFU bootloader."""
    return (f'SUBSYSTEMS=="usb", ATTRS{{idVendor}}=="{vid:04x}", ATTRS{{idProduct}}=="{pid:04x}", '
            'MODE="0660", TAG+="uaccess"')


def open_problem(exc: BaseException, vid: int, pid: int, platform: str | None = None) -> OpenProblem:
    """Name the cause of a failed open from libusb's code (or pyusb's errno) and the platform."""
    code = getattr(exc, "backend_error_code", None)
    err = getattr(exc, "errno", None)
    plat = platform if platform is not None else host_platform()
    ident = f"{vid:04x}:{pid:04x}"
    windows = plat.startswith("win") or plat == "cygwin"
    unsupported = code == LIBUSB_ERROR_NOT_SUPPORTED or (code is None and err == ENOSYS)
    if unsupported or (windows and code == LIBUSB_ERROR_NOT_FOUND):  # NOT_FOUND: no driver at all
        if windows:
            return OpenProblem("driver", "its driver is not one libusb can use (LIBUSB_ERROR_NOT_SUPPORTED)",
                               WINDOWS_DRIVER_FIX.format(id=ident))
        return OpenProblem("driver", "libusb cannot open it on this system (LIBUSB_ERROR_NOT_SUPPORTED)", None)
    if code == LIBUSB_ERROR_ACCESS or err == EACCES:
        if windows:
            return OpenProblem("busy", "access denied (LIBUSB_ERROR_ACCESS)", WINDOWS_ACCESS_FIX.format(id=ident))
        if plat.startswith("linux"):
            return OpenProblem("permission", "permission denied (LIBUSB_ERROR_ACCESS)", udev_fix(vid, pid))
        return OpenProblem("permission", "permission denied (LIBUSB_ERROR_ACCESS)", BUSY_FIX.format(id=ident))
    if code == LIBUSB_ERROR_BUSY or err == EBUSY:
        return OpenProblem("busy", "busy: claimed by another process", BUSY_FIX.format(id=ident))
    if is_gone(exc):
        return OpenProblem("gone", "it left the bus", None)
    return OpenProblem("other", str(exc), None)


def udev_fix(vid: int, pid: int) -> str:
    """The Linux fix for a device this user may not open: stflash's rules if they cover it, and
    the rule line itself."""
    from .usb_ids import DFU_PID, ST_VID, STLINK_PIDS

    line = udev_rule(vid, pid)
    if vid == ST_VID and (pid == DFU_PID or pid in STLINK_PIDS):
        return ("this user may not open it: install stflash's udev rules (sudo stflash udev-rules --install), "
                f"then unplug and replug the board; the rule for this device is:\n    {line}")
    return (f"this user may not open it: add this line to a file in /etc/udev/rules.d/ (then sudo udevadm control "
            f"--reload-rules, and replug):\n    {line}")
