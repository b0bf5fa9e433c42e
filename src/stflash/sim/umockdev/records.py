"""A bench device as the Linux kernel shows it in sysfs and udev, for umockdev's testbed.

libusb reads ``busnum``, ``devnum``, ``speed``, ``bConfigurationValue`` and the binary
``descriptors`` attribute (the device descriptor followed by the configuration descriptor, as the
device sent them) from sysfs, then opens ``/dev/bus/usb/BBB/DDD``. The record uses umockdev's
text format (``P:`` sysfs path, ``N:`` node, ``E:`` udev properties, ``A:`` attributes, ``H:``
binary attributes in hex). Text attributes end with a newline, as the kernel's do (libusb warns
about numeric ones without it); the record carries it C-escaped, which umockdev decodes.
"""

from __future__ import annotations

from typing import Any

from ..usb.device import SimUsbDevice

USB_MAJOR = 189  # usb_device character devices
HOST_CONTROLLER = "/devices/pci0000:00/0000:00:14.0"  # where the simulated root hub sits
SYSFS_SPEED = {1: "1.5", 2: "12", 3: "480", 4: "5000"}  # by libusb speed code


def device_record(dev: SimUsbDevice) -> dict[str, Any]:
    """What the testbed side needs to plug ``dev`` in: its key, sysfs path, node and record text."""
    d = dev.descriptor
    ports = ".".join(str(p) for p in dev.port_numbers) or "1"
    devpath = f"{HOST_CONTROLLER}/usb{dev.bus}/{dev.bus}-{ports}"
    node = f"bus/usb/{dev.bus:03d}/{dev.address:03d}"
    minor = (dev.bus - 1) * 128 + dev.address - 1
    config = dev.configuration
    attributes = {
        "busnum": str(dev.bus),
        "devnum": str(dev.address),
        "devpath": ports,
        "speed": SYSFS_SPEED.get(dev.speed, "12"),
        "idVendor": f"{d.idVendor:04x}",
        "idProduct": f"{d.idProduct:04x}",
        "bcdDevice": f"{d.bcdDevice:04x}",
        "bDeviceClass": f"{d.bDeviceClass:02x}",
        "bDeviceSubClass": f"{d.bDeviceSubClass:02x}",
        "bDeviceProtocol": f"{d.bDeviceProtocol:02x}",
        "bMaxPacketSize0": str(d.bMaxPacketSize0),
        "bNumConfigurations": str(d.bNumConfigurations),
        "bConfigurationValue": str(dev.current_config) if dev.current_config > 0 else "",  # "" unconfigured
        "bNumInterfaces": f"{config.bNumInterfaces:2d}",
        "bmAttributes": f"{config.bmAttributes:02x}",
        "version": f"{d.bcdUSB >> 8:2x}.{d.bcdUSB & 0xFF:02x}",
        "dev": f"{USB_MAJOR}:{minor}",
    }
    for name, index in (("manufacturer", d.iManufacturer), ("product", d.iProduct), ("serial", d.iSerialNumber)):
        text = dev.strings.get(index)
        if isinstance(text, str) and text.isprintable():
            attributes[name] = text
    properties = {
        "SUBSYSTEM": "usb",
        "DEVTYPE": "usb_device",
        "DRIVER": "usb",
        "DEVNAME": f"/dev/{node}",
        "PRODUCT": f"{d.idVendor:x}/{d.idProduct:x}/{d.bcdDevice:x}",
        "TYPE": f"{d.bDeviceClass}/{d.bDeviceSubClass}/{d.bDeviceProtocol}",
        "BUSNUM": f"{dev.bus:03d}",
        "DEVNUM": f"{dev.address:03d}",
        "MAJOR": str(USB_MAJOR),
        "MINOR": str(minor),
        "ID_VENDOR_ID": f"{d.idVendor:04x}",
        "ID_MODEL_ID": f"{d.idProduct:04x}",
    }
    lines = [f"P: {devpath}", f"N: {node}"]
    lines += [f"E: {k}={v}" for k, v in properties.items()]
    lines += [f"A: {k}={_escape(v)}" + ("" if k == "dev" else "\\n") for k, v in attributes.items()]
    lines.append(f"H: descriptors={(d.pack() + config.pack()).hex().upper()}")
    return {
        "key": dev.key,
        "syspath": f"/sys{devpath}",
        "devnode": f"/dev/{node}",
        "record": "\n".join(lines) + "\n",
        "bus": dev.bus,
        "address": dev.address,
        "speed": dev.speed,
        "ports": list(dev.port_numbers),
    }


def _escape(value: str) -> str:
    """umockdev un-escapes attribute values C-style; keep backslashes literal."""
    return value.replace("\\", "\\\\")
