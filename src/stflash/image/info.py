"""What ``stflash info FILE`` shows: a JSON-able description of a firmware file and its text form.

The dictionary keeps numbers as integers (scripts compare them); only :func:`render` turns
addresses into hex for people.
"""

from __future__ import annotations

from typing import Any

from .file import ImageFile
from .model import Image


def _segments(image: Image) -> list[dict[str, int]]:
    return [{"address": s.address, "length": len(s), "crc32": s.crc32} for s in image]


def describe(imagefile: ImageFile) -> dict[str, Any]:
    """Format, path, data size, span, entry point, CRC-32, segments, DfuSe targets and DFU suffix."""
    image = imagefile.image
    suffix = imagefile.suffix
    return {
        "path": imagefile.path,
        "format": imagefile.format,
        "size": image.size,
        "start": image.start if image else None,
        "end": image.end if image else None,
        "entry": image.entry,
        "crc32": image.crc32,
        "segments": _segments(image),
        "targets": [
            {"alt": t.alt_setting, "name": t.name, "size": t.image.size, "segments": _segments(t.image)}
            for t in imagefile.targets
        ],
        "suffix": None
        if suffix is None
        else {
            "vid": suffix.vendor_id,
            "pid": suffix.product_id,
            "bcd": suffix.device_version,
            "dfu_version": suffix.dfu_version,
            "crc": suffix.crc,
            "crc_ok": suffix.crc_ok,
        },
    }


def _segment_lines(segments: list[dict[str, int]], indent: str) -> list[str]:
    return [
        f"{indent}{s['address']:#010x}-{s['address'] + s['length'] - 1:#010x}  "
        f"{s['length']:>10} bytes  crc32 {s['crc32']:#010x}"
        for s in segments
    ]


def render(d: dict[str, Any]) -> str:
    """Human-readable text for :func:`describe`'s dictionary."""
    count = len(d["segments"])
    lines = [
        f"{d['path']}: {d['format']}, {d['size']} bytes in {count} segment{'s' if count != 1 else ''}",
    ]
    if d["start"] is not None:
        lines.append(f"  span:   {d['start']:#010x}-{d['end'] - 1:#010x}")
    lines.append(f"  entry:  {d['entry']:#010x}" if d["entry"] is not None else "  entry:  none")
    lines.append(f"  crc32:  {d['crc32']:#010x}")
    if d["targets"]:
        for t in d["targets"]:
            n = len(t["segments"])
            lines.append(
                f"  target alt {t['alt']} {t['name']!r}: {t['size']} bytes in {n} element{'s' if n != 1 else ''}"
            )
            lines += _segment_lines(t["segments"], "    ")
    else:
        lines += _segment_lines(d["segments"], "  ")
    s = d["suffix"]
    if s is not None:
        lines.append(
            f"  DFU suffix: VID {s['vid']:#06x} PID {s['pid']:#06x} bcdDevice {s['bcd']:#06x} "
            f"bcdDFU {s['dfu_version']:#06x} CRC {s['crc']:#010x} ({'ok' if s['crc_ok'] else 'BAD'})"
        )
    return "\n".join(lines)
