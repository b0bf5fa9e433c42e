"""Raw binary images: bytes with no address of their own, placed where the user says.

A trailing DFU suffix (as ``dfu-suffix -a`` adds) is recognised only when its signature, length
and CRC all match, because raw firmware may end in any bytes at all.
"""

from __future__ import annotations

from pathlib import PurePath

from ..errors import ImageError
from .dfuse import SUFFIX, add_suffix, find_plain_suffix
from .file import DfuSuffix, ImageFile
from .model import ADDRESS_LIMIT, Image, Segment

DEFAULT_ADDRESS = 0x0800_0000
MAX_FILLED_SPAN = 256 << 20
"""Largest hole-filled output we agree to build; beyond it the holes dwarf any real flash."""


def parse(data: bytes, path: str, *, address: int | None = None) -> ImageFile:
    """The file's bytes at ``address`` (default: start of STM32 flash), minus a valid DFU suffix."""
    base = DEFAULT_ADDRESS if address is None else address
    suffix = find_plain_suffix(data)
    payload = data[: -SUFFIX.size] if suffix is not None else data
    if not payload:
        raise ImageError("empty file" if not data else "no data before the DFU suffix", path=path, offset=0)
    if base < 0 or base + len(payload) > ADDRESS_LIMIT:
        raise ImageError(
            f"{len(payload)} bytes at {base:#x} would reach beyond the 4 GiB address space",
            path=path,
            offset=0,
        )
    return ImageFile(path, "bin", Image([Segment(base, payload, path)]), suffix=suffix)


def dump(image: Image, *, fill: int = 0xFF, suffix: DfuSuffix | None = None) -> bytes:
    """The whole span of ``image`` with holes filled, optionally followed by a DFU suffix."""
    if not image:
        raise ImageError("nothing to write: the image is empty")
    span = image.end - image.start
    if span > MAX_FILLED_SPAN:
        raise ImageError(
            f"the image spans {span:#x} bytes ({image.start:#010x}..{image.end:#010x}); filling the holes "
            "would make a huge file",
            hint="write one file per segment (split) or crop the image",
        )
    payload = image.read(image.start, span, fill)
    return _with_suffix(payload, suffix)


def dump_split(image: Image, path: str, *, suffix: DfuSuffix | None = None) -> list[tuple[str, bytes]]:
    """One (file name, bytes) per contiguous run, named ``out.0x08000000.bin`` after ``out.bin``."""
    if not image:
        raise ImageError("nothing to write: the image is empty")
    p = PurePath(path)
    return [
        (str(p.with_name(f"{p.stem}.{s.address:#010x}{p.suffix}")), _with_suffix(s.data, suffix))
        for s in image.coalesced()
    ]


def _with_suffix(payload: bytes, suffix: DfuSuffix | None) -> bytes:
    if suffix is None:
        return payload
    return add_suffix(
        payload,
        vendor_id=suffix.vendor_id,
        product_id=suffix.product_id,
        device_version=suffix.device_version,
        dfu_version=suffix.dfu_version,
    )
