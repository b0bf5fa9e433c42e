"""What a firmware file holds beyond its bytes: format, DfuSe targets, DFU suffix, entry point."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import Image


@dataclass(frozen=True)
class DfuSuffix:
    """The 16-byte DFU 1.1 suffix (VID/PID/bcdDevice as the file claims them)."""

    vendor_id: int = 0xFFFF
    product_id: int = 0xFFFF
    device_version: int = 0xFFFF
    dfu_version: int = 0x011A
    crc: int = 0
    crc_ok: bool = True


@dataclass
class Target:
    """One DfuSe target: an alternate setting of the device (0 = internal flash on STM32)."""

    alt_setting: int
    name: str
    image: Image


@dataclass
class ImageFile:
    """A file read from disk: its merged image plus the structure the format carried."""

    path: str
    format: str
    image: Image
    targets: list[Target] = field(default_factory=list)
    suffix: DfuSuffix | None = None

    @property
    def entry(self) -> int | None:
        return self.image.entry
