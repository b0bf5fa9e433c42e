"""A minimal libusb program (ctypes on the system's libusb-1.0, standard library only) for the tests
of ``stflash sim run``: what st-flash and dfu-util do not show on their own.

    python3 libusb_client.py describe VID:PID      what libusb sees of the device
    python3 libusb_client.py timeout VID:PID MS    an IN read nobody answers, then GET_VERSION

Prints one JSON line.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import resource
import sys
import time
from typing import Any


class DeviceDescriptor(ctypes.Structure):
    _fields_ = [(name, kind) for name, kind in (
        ("bLength", ctypes.c_uint8), ("bDescriptorType", ctypes.c_uint8), ("bcdUSB", ctypes.c_uint16),
        ("bDeviceClass", ctypes.c_uint8), ("bDeviceSubClass", ctypes.c_uint8), ("bDeviceProtocol", ctypes.c_uint8),
        ("bMaxPacketSize0", ctypes.c_uint8), ("idVendor", ctypes.c_uint16), ("idProduct", ctypes.c_uint16),
        ("bcdDevice", ctypes.c_uint16), ("iManufacturer", ctypes.c_uint8), ("iProduct", ctypes.c_uint8),
        ("iSerialNumber", ctypes.c_uint8), ("bNumConfigurations", ctypes.c_uint8))]


def libusb() -> Any:
    lib = ctypes.CDLL(ctypes.util.find_library("usb-1.0") or "libusb-1.0.so.0")
    p = ctypes.c_void_p
    lib.libusb_get_device_list.argtypes = [p, ctypes.POINTER(ctypes.POINTER(p))]
    lib.libusb_get_device_list.restype = ctypes.c_ssize_t
    lib.libusb_get_device_descriptor.argtypes = [p, ctypes.POINTER(DeviceDescriptor)]
    for name in ("libusb_get_bus_number", "libusb_get_device_address"):
        getattr(lib, name).argtypes = [p]
        getattr(lib, name).restype = ctypes.c_uint8
    lib.libusb_get_port_numbers.argtypes = [p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_int]
    lib.libusb_open.argtypes = [p, ctypes.POINTER(p)]
    lib.libusb_close.argtypes = [p]
    lib.libusb_claim_interface.argtypes = [p, ctypes.c_int]
    lib.libusb_control_transfer.argtypes = [p, ctypes.c_uint8, ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint16,
                                            ctypes.c_char_p, ctypes.c_uint16, ctypes.c_uint]
    lib.libusb_bulk_transfer.argtypes = [p, ctypes.c_ubyte, ctypes.c_char_p, ctypes.c_int,
                                         ctypes.POINTER(ctypes.c_int), ctypes.c_uint]
    if lib.libusb_init(None):
        raise SystemExit(2)
    return lib


def find(lib: Any, vid: int, pid: int) -> tuple[Any, DeviceDescriptor]:
    devices = ctypes.POINTER(ctypes.c_void_p)()
    count = lib.libusb_get_device_list(None, ctypes.byref(devices))
    for i in range(count):
        desc = DeviceDescriptor()
        lib.libusb_get_device_descriptor(devices[i], ctypes.byref(desc))
        if (desc.idVendor, desc.idProduct) == (vid, pid):
            return devices[i], desc
    print(json.dumps({"error": "no device"}))
    raise SystemExit(3)


def open_device(lib: Any, dev: Any) -> Any:
    handle = ctypes.c_void_p()
    if lib.libusb_open(dev, ctypes.byref(handle)):
        raise SystemExit(4)
    return handle


def get_descriptor(lib: Any, handle: Any, kind: int, index: int, length: int) -> bytes:
    buf = ctypes.create_string_buffer(length)
    got = lib.libusb_control_transfer(handle, 0x80, 6, (kind << 8) | index, 0x0409 if kind == 3 else 0, buf,
                                      length, 1000)
    return buf.raw[: max(got, 0)]


def describe(lib: Any, vid: int, pid: int) -> dict[str, Any]:
    dev, desc = find(lib, vid, pid)
    ports = (ctypes.c_uint8 * 7)()
    n = lib.libusb_get_port_numbers(dev, ports, 7)
    handle = open_device(lib, dev)
    config_head = get_descriptor(lib, handle, 2, 0, 9)
    total = int.from_bytes(config_head[2:4], "little") if len(config_head) >= 4 else 9
    out = {
        "sysfs_device": bytes(desc).hex(),
        "device": get_descriptor(lib, handle, 1, 0, 18).hex(),
        "config": get_descriptor(lib, handle, 2, 0, total).hex(),
        "serial": get_descriptor(lib, handle, 3, desc.iSerialNumber, 255).hex(),
        "bus": lib.libusb_get_bus_number(dev), "address": lib.libusb_get_device_address(dev),
        "ports": list(ports[: max(n, 0)]),
    }
    lib.libusb_close(handle)
    return out


def unanswered_read(lib: Any, vid: int, pid: int, timeout: int) -> dict[str, Any]:
    dev, _ = find(lib, vid, pid)
    handle = open_device(lib, dev)
    lib.libusb_claim_interface(handle, 0)
    buf = ctypes.create_string_buffer(64)
    got = ctypes.c_int(0)
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    first = lib.libusb_bulk_transfer(handle, 0x81, buf, 64, ctypes.byref(got), timeout)
    cpu1, wall1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    out_ep = 0x02 if pid == 0x3748 else 0x01
    command = ctypes.create_string_buffer(b"\xf1" + bytes(15), 16)  # GET_VERSION
    sent = lib.libusb_bulk_transfer(handle, out_ep, command, 16, ctypes.byref(got), 1000)
    second = lib.libusb_bulk_transfer(handle, 0x81, buf, 64, ctypes.byref(got), 1000)
    lib.libusb_close(handle)
    return {"first": first, "first_wall_s": wall1 - wall0,
            "first_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
            "sent": sent, "second": second, "reply": buf.raw[: got.value].hex()}


def main() -> int:
    verb, ids = sys.argv[1], sys.argv[2]
    vid, pid = (int(x, 16) for x in ids.split(":"))
    lib = libusb()
    result = describe(lib, vid, pid) if verb == "describe" else unanswered_read(lib, vid, pid, int(sys.argv[3]))
    print(json.dumps(result))
    lib.libusb_exit(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
