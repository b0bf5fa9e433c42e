"""A simulated USB device: descriptors plus the handlers a device's firmware would run.

Chapter-9 standard requests are answered here once; a device model (ST-LINK, DFU bootloader)
only implements its class/vendor requests and bulk endpoints.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .descriptors import (
    DT_CONFIG,
    DT_DEVICE,
    DT_STRING,
    LANGID_EN_US,
    SPEED_FULL,
    Configuration,
    DeviceDescriptor,
    string_descriptor,
)

GET_STATUS = 0
CLEAR_FEATURE = 1
SET_FEATURE = 3
GET_DESCRIPTOR = 6
GET_CONFIGURATION = 8
SET_CONFIGURATION = 9
GET_INTERFACE = 10
SET_INTERFACE = 11


class Stall(Exception):
    """The device answers a request with a STALL handshake (LIBUSB_ERROR_PIPE on the host)."""


class Gone(Exception):
    """The device left the bus (reset into the application, unplugged): LIBUSB_ERROR_NO_DEVICE."""


class NoData(Exception):
    """An IN transfer that the device does not answer before the host gives up (a timeout)."""


@dataclass(frozen=True)
class Setup:
    bmRequestType: int
    bRequest: int
    wValue: int
    wIndex: int
    wLength: int

    @property
    def device_to_host(self) -> bool:
        return bool(self.bmRequestType & 0x80)

    @property
    def kind(self) -> int:
        """0 standard, 1 class, 2 vendor."""
        return (self.bmRequestType >> 5) & 3

    @property
    def recipient(self) -> int:
        return self.bmRequestType & 0x1F


@dataclass
class SimUsbDevice:
    """Base of every simulated device; subclasses override the ``on_*`` handlers."""

    descriptor: DeviceDescriptor
    configuration: Configuration
    strings: dict[int, str | bytes] = field(default_factory=dict)
    speed: int = SPEED_FULL
    bus: int = 1
    address: int = 2
    port_numbers: tuple[int, ...] = (1,)
    current_config: int = -1  # -1: configured by the host OS at enumeration, as Linux does
    alt_settings: dict[int, int] = field(default_factory=dict)
    # the host may not open it: a key of ``backend.OPEN_REFUSALS`` (a missing udev rule, a Windows
    # driver libusb cannot use, another program holding it); descriptors stay readable
    open_error: str | None = None

    def __post_init__(self) -> None:
        if self.current_config < 0:
            self.current_config = self.configuration.bConfigurationValue

    # -- identity ---------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """Stable identity across re-enumeration: VID:PID:serial."""
        serial = self.strings.get(self.descriptor.iSerialNumber, "")
        s = serial.hex() if isinstance(serial, bytes) else serial
        return f"{self.descriptor.idVendor:04x}:{self.descriptor.idProduct:04x}:{s}"

    # -- control endpoint --------------------------------------------------------------------
    def control(self, setup: Setup, data: bytes) -> bytes:
        """Run one control transfer; returns the IN data (empty for OUT requests)."""
        if setup.kind == 0:
            return self._standard(setup)
        return self.on_control(setup, data)

    def _standard(self, setup: Setup) -> bytes:
        req = setup.bRequest
        if req == GET_DESCRIPTOR and setup.device_to_host:
            kind, index = setup.wValue >> 8, setup.wValue & 0xFF
            if kind == DT_DEVICE:
                return self.descriptor.pack()[: setup.wLength]
            if kind == DT_CONFIG and index == 0:
                return self.configuration.pack()[: setup.wLength]
            if kind == DT_STRING:
                if index == 0:
                    return struct.pack("<BBH", 4, DT_STRING, LANGID_EN_US)[: setup.wLength]
                if index in self.strings:
                    return string_descriptor(self.strings[index])[: setup.wLength]
            raise Stall(f"no descriptor {kind}:{index}")
        if req == SET_CONFIGURATION:
            if setup.wValue not in (0, self.configuration.bConfigurationValue):
                raise Stall("bad configuration")
            self.current_config = setup.wValue
            return b""
        if req == GET_CONFIGURATION:
            return bytes([self.current_config])
        if req == SET_INTERFACE:
            alts = {
                i.bAlternateSetting
                for i in self.configuration.interfaces
                if i.bInterfaceNumber == setup.wIndex
            }
            if setup.wValue not in alts:
                raise Stall("bad alternate setting")
            self.alt_settings[setup.wIndex] = setup.wValue
            self.on_set_interface(setup.wIndex, setup.wValue)
            return b""
        if req == GET_INTERFACE:
            return bytes([self.alt_settings.get(setup.wIndex, 0)])
        if req == GET_STATUS:
            return b"\x00\x00"[: setup.wLength]
        if req in (CLEAR_FEATURE, SET_FEATURE):
            return b""
        raise Stall(f"standard request {req} not supported")

    # -- hooks for device models ---------------------------------------------------------------
    def on_control(self, setup: Setup, data: bytes) -> bytes:
        raise Stall("no class or vendor requests")

    def on_set_interface(self, interface: int, alt: int) -> None:
        return None

    def bulk_out(self, endpoint: int, data: bytes) -> None:
        raise Stall(f"no bulk OUT endpoint {endpoint:#04x}")

    def bulk_in(self, endpoint: int, length: int) -> bytes:
        raise Stall(f"no bulk IN endpoint {endpoint:#04x}")

    def on_reset(self) -> None:
        """USB bus reset requested by the host."""
        return None
