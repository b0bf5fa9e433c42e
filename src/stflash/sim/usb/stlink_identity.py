"""How each ST-LINK generation presents itself on USB (stlink.md §1: PIDs, endpoints, serials).

The command set behind these descriptors is the ST-LINK device model's business; this is only
what enumeration shows, so that discovery works the same for every client.
"""

from __future__ import annotations

from dataclasses import dataclass

from .descriptors import (
    EP_BULK,
    EP_INTERRUPT,
    SPEED_FULL,
    SPEED_HIGH,
    Configuration,
    DeviceDescriptor,
    Endpoint,
    Interface,
)


@dataclass(frozen=True)
class StlinkKind:
    name: str  # "V2", "V2-1", "V3"
    pid: int
    out_ep: int
    in_ep: int
    trace_ep: int
    packet: int
    speed: int
    bcd_device: int
    product: str


KINDS = {
    "V2": StlinkKind("V2", 0x3748, 0x02, 0x81, 0x83, 64, SPEED_FULL, 0x0100, "STM32 STLink"),
    "V2-1": StlinkKind("V2-1", 0x374B, 0x01, 0x81, 0x82, 64, SPEED_FULL, 0x0100, "STM32 STLink"),
    "V3": StlinkKind("V3", 0x374E, 0x01, 0x81, 0x82, 512, SPEED_HIGH, 0x0100, "STLINK-V3"),
}


def serial_string(serial: bytes, raw: bool) -> str | bytes:
    """The serial descriptor text: 24 upper-case hex characters, or (old V2 firmware) the 12 raw
    bytes one per UTF-16 code unit, which hosts must hex-encode themselves."""
    if raw:
        return b"".join(bytes([b, 0]) for b in serial)
    return serial.hex().upper()


def stlink_descriptors(
    kind: str, serial: bytes, raw_serial: bool = False
) -> tuple[DeviceDescriptor, Configuration, dict[int, str | bytes], int]:
    k = KINDS[kind]
    debug = Interface(
        0,
        bInterfaceClass=0xFF,
        bInterfaceSubClass=0xFF,
        bInterfaceProtocol=0xFF,
        iInterface=4,
        endpoints=[
            Endpoint(k.in_ep, EP_BULK, k.packet),
            Endpoint(k.out_ep, EP_BULK, k.packet),
            Endpoint(k.trace_ep, EP_BULK, k.packet),
        ],
    )
    interfaces = [debug]
    if kind != "V2":  # on-board probes add mass storage and a virtual COM port
        interfaces.append(
            Interface(
                1,
                bInterfaceClass=0x08,
                bInterfaceSubClass=0x06,
                bInterfaceProtocol=0x50,
                iInterface=5,
                endpoints=[Endpoint(0x83, EP_BULK, k.packet), Endpoint(0x03, EP_BULK, k.packet)],
            )
        )
        interfaces.append(
            Interface(
                2,
                bInterfaceClass=0x02,
                bInterfaceSubClass=0x02,
                bInterfaceProtocol=0x01,
                iInterface=6,
                endpoints=[Endpoint(0x84, EP_INTERRUPT, 16, bInterval=16)],
            )
        )
        interfaces.append(
            Interface(
                3,
                bInterfaceClass=0x0A,
                bInterfaceSubClass=0,
                bInterfaceProtocol=0,
                iInterface=7,
                endpoints=[Endpoint(0x05, EP_BULK, k.packet), Endpoint(0x85, EP_BULK, k.packet)],
            )
        )
    device = DeviceDescriptor(
        0x0483,
        k.pid,
        k.bcd_device,
        bDeviceClass=0xEF if kind != "V2" else 0,
        bDeviceSubClass=2 if kind != "V2" else 0,
        bDeviceProtocol=1 if kind != "V2" else 0,
    )
    strings: dict[int, str | bytes] = {
        1: "STMicroelectronics",
        2: k.product,
        3: serial_string(serial, raw_serial),
        4: "ST-Link Debug",
        5: "ST-Link mass storage",
        6: "ST-Link VCP Ctrl",
        7: "ST-Link VCP Data",
    }
    return device, Configuration(interfaces, bMaxPower=150), strings, k.speed
