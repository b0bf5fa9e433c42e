"""Applications with a DFU runtime interface (DFU 1.1 §4.1, §5.1): DFU_DETACH sends them to their
DFU bootloader.

A runtime interface is class 0xFE, subclass 0x01, protocol 0x01 inside the application's own USB
device (any VID:PID, usually beside its CDC or HID interfaces). The host sends DFU_DETACH with a
timeout; a device whose functional descriptor sets bitWillDetach then leaves the bus by itself,
any other waits for the host's USB reset within wDetachTimeOut, and then enumerates in DFU mode
(on an STM32: the application starts the system bootloader, 0483:df11).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ...errors import DeviceBusyError, LinkError
from ..usb import LIBUSB_ERROR_NOT_FOUND, UsbDevice, describe, is_gone, is_stall, open_problem
from .dfuse import CONTROL_TIMEOUT_MS, DETACH, REQUEST_OUT, FunctionalDescriptor

RUNTIME_CLASS = (0xFE, 0x01, 0x01)  # application specific / DFU / runtime protocol (DFU 1.1 table 4.1)
ATTR_WILL_DETACH = 0x08  # bmAttributes bit 3 (DFU 1.1 table 4.2)
# wTimeout for DFU_DETACH when the descriptor gives none (a DFU 1.0 device): dfu-util's default
DEFAULT_DETACH_MS = 1000
# How long the DFU bootloader may take to enumerate after a detach, unless --wait says longer:
# the application's detach timeout, its jump into the ROM and the host's enumeration (policy;
# STM32 ROMs enumerate well within a second)
DETACH_ENUMERATION_S = 5.0


@dataclass(frozen=True)
class RuntimeDevice:
    """One application on the bus that offers DFU_DETACH: its USB device and runtime interface."""

    usb: UsbDevice
    interface: int
    functional: FunctionalDescriptor | None

    @property
    def will_detach(self) -> bool:
        return self.functional is not None and bool(self.functional.attributes & ATTR_WILL_DETACH)

    @property
    def label(self) -> str:
        dev = self.usb
        name = dev.product or "USB device"
        return f"{name} ({dev.vid:04x}:{dev.pid:04x}" + (f", serial {dev.serial})" if dev.serial else ")")


def runtime_interface(dev: Any) -> tuple[int, FunctionalDescriptor | None] | None:
    """The DFU runtime interface of a pyusb device and its functional descriptor, if it has one.
    Only descriptors are read, which needs no permission to open the device."""
    for cfg in dev:
        for intf in cfg:
            if (intf.bInterfaceClass, intf.bInterfaceSubClass, intf.bInterfaceProtocol) == RUNTIME_CLASS:
                func = FunctionalDescriptor.find([bytes(intf.extra_descriptors or b""),
                                                  bytes(cfg.extra_descriptors or b"")])
                return int(intf.bInterfaceNumber), func
    return None


def find_runtime(backend: Any) -> list[RuntimeDevice]:
    """Every device on the bus with a DFU runtime interface (the DFU-mode bootloader has none)."""
    import usb.core

    out: list[RuntimeDevice] = []
    for dev in usb.core.find(find_all=True, backend=backend) or []:
        try:
            found = runtime_interface(dev)
        except (usb.core.USBError, NotImplementedError, ValueError):
            continue  # descriptors unreadable: nothing to say about it
        if found is not None:
            out.append(RuntimeDevice(describe(dev), *found))
    return out


def detach(device: RuntimeDevice, timeout_ms: int = CONTROL_TIMEOUT_MS) -> str:
    """DFU_DETACH, then a USB reset unless the device leaves by itself (bitWillDetach). Returns
    what was done; the caller then waits for the DFU bootloader to enumerate."""
    import usb.core
    import usb.util

    dev = device.usb.handle
    wait_ms = device.functional.detach_timeout_ms if device.functional else DEFAULT_DETACH_MS
    try:
        with contextlib.suppress(NotImplementedError, usb.core.USBError):
            if dev.is_kernel_driver_active(device.interface):
                dev.detach_kernel_driver(device.interface)
        usb.util.claim_interface(dev, device.interface)
        dev.ctrl_transfer(REQUEST_OUT, DETACH, min(wait_ms, 0xFFFF), device.interface, None, timeout_ms)
    except usb.core.USBError as exc:
        if is_gone(exc):  # it left before the status stage: what a detach does
            return "DFU_DETACH (it left the bus at once)"
        if is_stall(exc):
            raise LinkError(f"{device.label} refused DFU_DETACH (stalled)",
                            hint="start its bootloader another way: BOOT0 high at reset") from None
        problem = open_problem(exc, device.usb.vid, device.usb.pid)
        if problem.kind in ("permission", "busy", "driver"):
            raise DeviceBusyError(f"{device.label} cannot be opened to detach it: {problem.text}",
                                  hint=problem.fix) from None
        raise LinkError(f"DFU_DETACH to {device.label} failed: {problem.text}") from None
    done = "DFU_DETACH"
    if not device.will_detach:
        try:
            dev.reset()  # within wDetachTimeOut: the device enters DFU mode on this reset
            done += " + USB reset"
        except usb.core.USBError as exc:
            code = getattr(exc, "backend_error_code", None)
            if not (is_gone(exc) or code == LIBUSB_ERROR_NOT_FOUND):
                raise LinkError(f"the USB reset after DFU_DETACH to {device.label} failed: {exc}") from None
            done += " + USB reset (it re-enumerated)"
    else:
        done += " (it detaches by itself: bitWillDetach)"
    with contextlib.suppress(Exception):
        usb.util.dispose_resources(dev)
    return done


__all__ = ["DETACH_ENUMERATION_S", "RuntimeDevice", "detach", "find_runtime", "runtime_interface"]
