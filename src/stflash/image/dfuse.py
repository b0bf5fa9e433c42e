"""ST DfuSe ``.dfu`` files (UM0391) and the plain 16-byte DFU 1.1 suffix.

Layout: an 11-byte prefix ("DfuSe", version 1, size without suffix, target count), then per
target a 274-byte prefix (alt setting, name, size, element count) and its elements
(address, size, bytes), then the DFU suffix whose CRC covers everything before the CRC field.
Every size the file states is checked against what is left of the file before anything is
sliced, so a lying header costs nothing.
"""

from __future__ import annotations

import struct
import zlib
from collections import defaultdict

from ..errors import ImageError
from ._chunks import Chunk, build_segments
from .file import DfuSuffix, ImageFile, Target
from .model import Image

PREFIX = struct.Struct("<5sBIB")
TARGET = struct.Struct("<6sBI255sII")
ELEMENT = struct.Struct("<II")
SUFFIX = struct.Struct("<HHHH3sBI")

DFUSE_VERSION = 0x011A
PLAIN_VERSION = 0x0100
DEFAULT_VENDOR_ID = 0x0483  # what ST's tools and dfuse-pack write
DEFAULT_PRODUCT_ID = 0xDF11
DEFAULT_DEVICE_VERSION = 0x0000
DEFAULT_TARGET_NAME = "ST..."


def dfu_crc(data: bytes) -> int:
    """The DFU suffix CRC: CRC-32 with initial value 0xFFFFFFFF and no final inversion."""
    return ~zlib.crc32(data) & 0xFFFFFFFF


def parse_suffix(data: bytes) -> DfuSuffix | None:
    """The suffix at the end of ``data`` if its signature and length are there (CRC not required)."""
    if len(data) < SUFFIX.size:
        return None
    device, product, vendor, version, sig, length, crc = SUFFIX.unpack_from(data, len(data) - SUFFIX.size)
    if sig != b"UFD" or length != SUFFIX.size:
        return None
    return DfuSuffix(vendor, product, device, version, crc, crc == dfu_crc(data[:-4]))


def find_plain_suffix(data: bytes) -> DfuSuffix | None:
    """A suffix only when signature, length and CRC all match: raw bytes may end in anything."""
    suffix = parse_suffix(data)
    return suffix if suffix is not None and suffix.crc_ok else None


def add_suffix(
    payload: bytes,
    *,
    vendor_id: int = 0xFFFF,
    product_id: int = 0xFFFF,
    device_version: int = 0xFFFF,
    dfu_version: int = PLAIN_VERSION,
) -> bytes:
    """``payload`` with a DFU suffix appended (defaults match ``dfu-suffix -a``)."""
    for value in (vendor_id, product_id, device_version, dfu_version):
        if not 0 <= value <= 0xFFFF:
            raise ImageError(f"DFU suffix field {value:#x} does not fit in 16 bits")
    head = SUFFIX.pack(device_version, product_id, vendor_id, dfu_version, b"UFD", SUFFIX.size, 0)[:-4]
    body = payload + head
    return body + struct.pack("<I", dfu_crc(body))


def parse(data: bytes, path: str, *, verify_crc: bool = True) -> ImageFile:
    """Read a DfuSe file; each target is kept apart and all of them are merged into ``image``."""
    if len(data) < PREFIX.size + SUFFIX.size:
        raise ImageError(
            f"truncated: {len(data)} bytes is too short for a DfuSe file", path=path, offset=len(data)
        )
    signature, version, image_size, n_targets = PREFIX.unpack_from(data, 0)
    if signature != b"DfuSe":
        raise ImageError("no DfuSe signature", path=path, offset=0)
    if version != 1:
        raise ImageError(f"unsupported DfuSe version {version}", path=path, offset=5)
    suffix = parse_suffix(data)
    body_end = len(data) - SUFFIX.size
    if suffix is None:
        raise ImageError("no DFU suffix (file truncated?)", path=path, offset=body_end)
    if not suffix.crc_ok and verify_crc:
        raise ImageError(
            f"bad DFU suffix CRC (file says {suffix.crc:#010x}, computed {dfu_crc(data[:-4]):#010x})",
            path=path,
            offset=len(data) - 4,
        )
    if image_size != body_end:
        raise ImageError(
            f"prefix says the image is {image_size} bytes but {body_end} precede the suffix",
            path=path,
            offset=6,
        )
    pos = PREFIX.size
    targets: list[Target] = []
    everything: list[Chunk] = []
    for index in range(n_targets):
        chunks, pos, target = _target(data, pos, body_end, index, path)
        targets.append(target)
        everything += chunks
    if pos != body_end:
        raise ImageError(f"{body_end - pos} bytes after the last target", path=path, offset=pos)
    image = Image(build_segments(everything, path, join=False))
    return ImageFile(path, "dfu", image, targets, suffix)


def _target(data: bytes, pos: int, body_end: int, index: int, path: str) -> tuple[list[Chunk], int, Target]:
    """Parse one target at ``pos``; returns its chunks, the position after it and the target."""
    if pos + TARGET.size > body_end:
        raise ImageError(
            f"truncated: target {index} prefix runs past the end of the image", path=path, offset=pos
        )
    signature, alt, named, raw_name, size, n_elements = TARGET.unpack_from(data, pos)
    if signature != b"Target":
        raise ImageError(f"no 'Target' signature for target {index}", path=path, offset=pos)
    name = raw_name.split(b"\0", 1)[0].decode("latin-1") if named else ""
    label = f"target {index} (alt {alt}, {name!r})"
    pos += TARGET.size
    end = pos + size
    if end > body_end:
        raise ImageError(
            f"{label} claims {size} bytes but only {body_end - pos} remain", path=path, offset=pos - 8
        )
    chunks: list[Chunk] = []
    for number in range(n_elements):
        if pos + ELEMENT.size > end:
            raise ImageError(
                f"{label} claims {n_elements} elements but its size ends after {number}",
                path=path,
                offset=pos,
            )
        address, length = ELEMENT.unpack_from(data, pos)
        if length > end - pos - ELEMENT.size:
            raise ImageError(
                f"element {number} of {label} claims {length} bytes but only {end - pos - ELEMENT.size} remain",
                path=path,
                offset=pos + 4,
            )
        chunks.append(Chunk(address, data[pos + ELEMENT.size : pos + ELEMENT.size + length], pos, label))
        pos += ELEMENT.size + length
    if pos != end:
        raise ImageError(
            f"{label} size says {size} bytes but its elements end {end - pos} bytes early",
            path=path,
            offset=pos,
        )
    return chunks, pos, Target(alt, name, Image(build_segments(chunks, path, join=False)))


def dump(
    source: Image | ImageFile,
    *,
    vendor_id: int | None = None,
    product_id: int | None = None,
    device_version: int | None = None,
) -> bytes:
    """A DfuSe file: one target per alt setting, one element per contiguous run of bytes.

    An ``ImageFile`` keeps its targets and suffix IDs when its targets still add up to its image;
    otherwise (or for a bare ``Image``) everything goes to alt setting 0 named "ST...".
    """
    targets = _targets_of(source)
    suffix = source.suffix if isinstance(source, ImageFile) else None
    body = bytearray()
    for target in targets:
        runs = target.image.coalesced().segments
        elements = b"".join(ELEMENT.pack(s.address, len(s)) + s.data for s in runs)
        name = _encode_name(target.name)
        body += TARGET.pack(b"Target", target.alt_setting, 1 if name else 0, name, len(elements), len(runs))
        body += elements
    if PREFIX.size + len(body) > 0xFFFFFFFF:
        raise ImageError("image too large for a DfuSe file")
    prefix = PREFIX.pack(b"DfuSe", 1, PREFIX.size + len(body), len(targets))
    return add_suffix(
        prefix + bytes(body),
        vendor_id=_pick(vendor_id, suffix.vendor_id if suffix else None, DEFAULT_VENDOR_ID),
        product_id=_pick(product_id, suffix.product_id if suffix else None, DEFAULT_PRODUCT_ID),
        device_version=_pick(
            device_version, suffix.device_version if suffix else None, DEFAULT_DEVICE_VERSION
        ),
        dfu_version=DFUSE_VERSION,
    )


def _targets_of(source: Image | ImageFile) -> list[Target]:
    """Targets to write, one per alt setting; targets sharing an alt setting are merged."""
    if isinstance(source, ImageFile):
        merged = Image()
        for t in source.targets:
            merged.merge(t.image)
        if source.targets and merged == source.image:
            by_alt: dict[int, Target] = {}
            images: defaultdict[int, Image] = defaultdict(Image)
            for t in source.targets:
                by_alt.setdefault(t.alt_setting, t)
                images[t.alt_setting].merge(t.image)
            return [Target(alt, by_alt[alt].name, images[alt]) for alt in sorted(by_alt)]
        return [Target(0, DEFAULT_TARGET_NAME, source.image)]
    return [Target(0, DEFAULT_TARGET_NAME, source)]


def _encode_name(name: str) -> bytes:
    try:
        raw = name.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ImageError(f"target name {name!r} cannot be stored in a DfuSe file") from exc
    if len(raw) > 254 or b"\0" in raw:
        raise ImageError(f"target name {name!r} is too long or holds a NUL byte (254 bytes at most)")
    return raw


def _pick(given: int | None, inherited: int | None, default: int) -> int:
    """The caller's value, else the source file's, else the default."""
    return given if given is not None else inherited if inherited is not None else default
