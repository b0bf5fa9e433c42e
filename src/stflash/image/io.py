"""Loading and saving firmware files: format detection and dispatch to the format modules.

Content decides the format before the file name does, because firmware gets renamed far more
often than it gets rewritten; the extension is only the fallback for formats without magic.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from ..errors import ImageError, StflashError, UsageError
from . import binary, dfuse, elf, ihex, srec
from .file import DfuSuffix, ImageFile
from .model import ADDRESS_LIMIT, Image

FORMATS = ("dfu", "hex", "srec", "elf", "bin")
ALIASES = {
    "dfuse": "dfu",
    "ihex": "hex",
    "intel": "hex",
    "s19": "srec",
    "s28": "srec",
    "s37": "srec",
    "mot": "srec",
    "motorola": "srec",
    "binary": "bin",
    "raw": "bin",
}
EXTENSIONS = {
    ".dfu": "dfu",
    ".hex": "hex",
    ".ihex": "hex",
    ".ihx": "hex",
    ".srec": "srec",
    ".s19": "srec",
    ".s28": "srec",
    ".s37": "srec",
    ".mot": "srec",
    ".elf": "elf",
    ".axf": "elf",
    ".out": "elf",
    ".bin": "bin",
}
_IHEX_HEAD = re.compile(rb":[0-9A-Fa-f]{10}")
_SREC_HEAD = re.compile(rb"S[0-9][0-9A-Fa-f]{6}")
_FORMAT_HINT = "name the format explicitly: " + ", ".join(FORMATS)


def canonical_format(name: str) -> str:
    """``name`` or one of its aliases (``hex``, ``s19``, ``dfu``...) as one of :data:`FORMATS`."""
    key = name.lower().lstrip(".")
    key = ALIASES.get(key, key)
    if key not in FORMATS:
        raise UsageError(f"unknown image format {name!r}", hint=_FORMAT_HINT)
    return key


def detect_format(path: str | os.PathLike[str], head: bytes) -> str:
    """The format of a file from its first bytes, else from its extension."""
    if head.startswith(b"DfuSe"):
        return "dfu"
    if head.startswith(b"\x7fELF"):
        return "elf"
    if _IHEX_HEAD.match(head):
        return "hex"
    if _SREC_HEAD.match(head):
        return "srec"
    fmt = EXTENSIONS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ImageError(
            "unknown file format (no known signature or extension)", path=str(path), hint=_FORMAT_HINT
        )
    return fmt


def load(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    address: int | None = None,
    verify_crc: bool = True,
) -> ImageFile:
    """Read a firmware file. ``address`` places a raw binary; other formats carry their own
    addresses, so it is refused unless it agrees with where the image starts. ``verify_crc=False``
    accepts a DfuSe file whose suffix CRC is wrong (``suffix.crc_ok`` then says so)."""
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read: {exc.strerror or exc}", path=name) from None
    if not data:
        raise ImageError("empty file", path=name, offset=0)
    fmt = canonical_format(format) if format else detect_format(name, data[:64])
    if fmt == "dfu" and format is None and not data.startswith(b"DfuSe") and dfuse.find_plain_suffix(data):
        fmt = "bin"  # a plain DFU file (raw bytes + suffix), as dfu-suffix makes them
    if fmt == "bin":
        return binary.parse(data, name, address=address)
    if fmt == "dfu":
        result = dfuse.parse(data, name, verify_crc=verify_crc)
    else:
        result = {"hex": ihex.parse, "srec": srec.parse, "elf": elf.parse}[fmt](data, name)
    if address is not None and not (result.image and result.image.start == address):
        where = f"starts at {result.image.start:#010x}" if result.image else "is empty"
        raise UsageError(
            f"{name} is {fmt} and carries its own addresses (it {where}); an address applies to raw binaries only"
        )
    return result


def save(
    source: Image | ImageFile,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    split: bool = False,
    fill: int = 0xFF,
    vendor_id: int | None = None,
    product_id: int | None = None,
    device_version: int | None = None,
    dfu_suffix: bool | None = None,
) -> list[str]:
    """Write ``source`` as a firmware file and return the paths written.

    ``split`` writes one raw binary per contiguous run instead of filling holes with ``fill``.
    VID/PID/bcdDevice go into a DfuSe file's suffix, or into a raw binary's DFU suffix: one is
    added when ``dfu_suffix`` is true, or when it is ``None`` and an ID is given or the source
    was a binary that had one.
    """
    name = os.fspath(path)
    fmt = canonical_format(format) if format else EXTENSIONS.get(Path(name).suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot tell the output format from the name {name!r}", hint=_FORMAT_HINT)
    image = source.image if isinstance(source, ImageFile) else source
    ids = (vendor_id, product_id, device_version)
    if split and fmt != "bin":
        raise UsageError("split output is for raw binaries only; other formats hold several segments")
    if not 0 <= fill <= 0xFF:
        raise UsageError(f"fill value {fill:#x} is not a byte")
    if any(v is not None and not 0 <= v <= 0xFFFF for v in ids):
        raise UsageError("USB vendor id, product id and bcdDevice are 16-bit values")
    if fmt not in ("dfu", "bin") and (any(v is not None for v in ids) or dfu_suffix):
        raise UsageError(f"DFU suffix fields apply to .dfu files and raw binaries, not {fmt}")
    if image.entry is not None and not 0 <= image.entry < ADDRESS_LIMIT:
        raise ImageError(f"entry point {image.entry:#x} lies beyond the 4 GiB address space")
    if fmt == "dfu":
        blobs = [
            (
                name,
                dfuse.dump(source, vendor_id=vendor_id, product_id=product_id, device_version=device_version),
            )
        ]
    elif fmt == "bin":
        suffix = _bin_suffix(source, ids, dfu_suffix)
        blobs = (
            binary.dump_split(image, name, suffix=suffix)
            if split
            else [(name, binary.dump(image, fill=fill, suffix=suffix))]
        )
    else:
        blobs = [(name, {"hex": ihex.dump, "srec": srec.dump, "elf": elf.dump}[fmt](image))]
    for target, blob in blobs:
        _write(target, blob)
    return [target for target, _ in blobs]


def _bin_suffix(
    source: Image | ImageFile, ids: tuple[int | None, int | None, int | None], wanted: bool | None
) -> DfuSuffix | None:
    """The plain DFU suffix for a raw binary, or ``None`` when none is wanted."""
    inherited = source.suffix if isinstance(source, ImageFile) else None
    if wanted is None:
        was_bin = isinstance(source, ImageFile) and source.format == "bin"
        wanted = any(v is not None for v in ids) or (was_bin and inherited is not None)
    if not wanted:
        return None
    base = inherited or DfuSuffix()
    vendor, product, device = (
        v if v is not None else old
        for v, old in zip(ids, (base.vendor_id, base.product_id, base.device_version), strict=True)
    )
    return DfuSuffix(vendor, product, device, dfuse.PLAIN_VERSION)


def _write(name: str, blob: bytes) -> None:
    """Write through a temporary file and rename, so a failed write never leaves half a file."""
    target = Path(name)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StflashError(f"{name}: cannot write: {exc.strerror or exc}") from None
