"""USB descriptors as the bus carries them (USB 2.0 ch. 9), built from plain data.

The same objects serve pyusb (attribute names are the descriptor field names) and raw
GET_DESCRIPTOR requests (``pack``), so every client sees one truth.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

DT_DEVICE = 1
DT_CONFIG = 2
DT_STRING = 3
DT_INTERFACE = 4
DT_ENDPOINT = 5

EP_BULK = 2
EP_INTERRUPT = 3

SPEED_FULL = 2  # libusb speed codes
SPEED_HIGH = 3


@dataclass
class Endpoint:
    bEndpointAddress: int
    bmAttributes: int = EP_BULK
    wMaxPacketSize: int = 64
    bInterval: int = 0
    bLength: int = 7
    bDescriptorType: int = DT_ENDPOINT
    bRefresh: int = 0
    bSynchAddress: int = 0
    extra_descriptors: bytes = b""

    def pack(self) -> bytes:
        return (
            struct.pack(
                "<BBBBHB",
                7,
                DT_ENDPOINT,
                self.bEndpointAddress,
                self.bmAttributes,
                self.wMaxPacketSize,
                self.bInterval,
            )
            + self.extra_descriptors
        )


@dataclass
class Interface:
    bInterfaceNumber: int
    bAlternateSetting: int = 0
    bInterfaceClass: int = 0xFF
    bInterfaceSubClass: int = 0xFF
    bInterfaceProtocol: int = 0xFF
    iInterface: int = 0
    endpoints: list[Endpoint] = field(default_factory=list)
    extra_descriptors: bytes = b""  # class-specific descriptors (e.g. the DFU functional descriptor)
    bLength: int = 9
    bDescriptorType: int = DT_INTERFACE

    @property
    def bNumEndpoints(self) -> int:
        return len(self.endpoints)

    def pack(self) -> bytes:
        head = struct.pack(
            "<BBBBBBBBB",
            9,
            DT_INTERFACE,
            self.bInterfaceNumber,
            self.bAlternateSetting,
            self.bNumEndpoints,
            self.bInterfaceClass,
            self.bInterfaceSubClass,
            self.bInterfaceProtocol,
            self.iInterface,
        )
        return head + self.extra_descriptors + b"".join(e.pack() for e in self.endpoints)


@dataclass
class Configuration:
    interfaces: list[Interface]  # every alternate setting, in descriptor order
    bConfigurationValue: int = 1
    iConfiguration: int = 0
    bmAttributes: int = 0x80
    bMaxPower: int = 50  # 100 mA
    extra_descriptors: bytes = b""
    bLength: int = 9
    bDescriptorType: int = DT_CONFIG

    @property
    def bNumInterfaces(self) -> int:
        return len({i.bInterfaceNumber for i in self.interfaces})

    @property
    def wTotalLength(self) -> int:
        return len(self.pack())

    def pack(self) -> bytes:
        body = self.extra_descriptors + b"".join(i.pack() for i in self.interfaces)
        head = struct.pack(
            "<BBHBBBBB",
            9,
            DT_CONFIG,
            9 + len(body),
            self.bNumInterfaces,
            self.bConfigurationValue,
            self.iConfiguration,
            self.bmAttributes,
            self.bMaxPower,
        )
        return head + body


@dataclass
class DeviceDescriptor:
    idVendor: int
    idProduct: int
    bcdDevice: int
    iManufacturer: int = 1
    iProduct: int = 2
    iSerialNumber: int = 3
    bcdUSB: int = 0x0200
    bDeviceClass: int = 0
    bDeviceSubClass: int = 0
    bDeviceProtocol: int = 0
    bMaxPacketSize0: int = 64
    bNumConfigurations: int = 1
    bLength: int = 18
    bDescriptorType: int = DT_DEVICE

    def pack(self) -> bytes:
        return struct.pack(
            "<BBHBBBBHHHBBBB",
            18,
            DT_DEVICE,
            self.bcdUSB,
            self.bDeviceClass,
            self.bDeviceSubClass,
            self.bDeviceProtocol,
            self.bMaxPacketSize0,
            self.idVendor,
            self.idProduct,
            self.bcdDevice,
            self.iManufacturer,
            self.iProduct,
            self.iSerialNumber,
            self.bNumConfigurations,
        )


def string_descriptor(text: str | bytes) -> bytes:
    """A string descriptor. ``bytes`` are sent as they are after the header: some probes put raw
    binary in their serial descriptor (ST-LINK/V2), which hosts then decode as they can."""
    body = text if isinstance(text, bytes) else text.encode("utf-16-le")
    return bytes([2 + len(body), DT_STRING]) + body


LANGID_EN_US = 0x0409


DT_DFU_FUNCTIONAL = 0x21  # DFU 1.1 table 4.2


def dfu_functional_descriptor(bm_attributes: int, detach_ms: int, transfer_size: int, bcd_dfu: int) -> bytes:
    """The 9-byte DFU functional descriptor (DFU 1.1 §4.1.3); it follows the last alternate setting
    of the DFU interface in the configuration descriptor, where libusb reports it as that
    alternate's extra bytes."""
    return struct.pack("<BBBHHH", 9, DT_DFU_FUNCTIONAL, bm_attributes, detach_ms, transfer_size, bcd_dfu)
