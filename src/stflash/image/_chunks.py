"""Pieces of data parsed from a file, turned into image segments.

Readers collect ``Chunk``s (data plus the file offset it came from) and hand them here, so that
overlap and 4 GiB checks are done once, with an error that points into the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..errors import ImageError
from .model import ADDRESS_LIMIT, Segment


class Chunk(NamedTuple):
    """Bytes at an address, with where they were found (``offset``) and what they belong to."""

    address: int
    data: bytes
    offset: int
    name: str = ""


def build_segments(
    chunks: list[Chunk], path: str, *, join: bool = True, locate: Callable[[int], int] | None = None
) -> list[Segment]:
    """Sorted, disjoint segments from ``chunks``.

    With ``join``, chunks of the same name that touch become one segment (hex records); without
    it they stay apart (DfuSe elements keep the file's layout). Overlaps with identical bytes are
    folded in; different bytes are an error naming both pieces. ``locate`` maps a chunk's
    ``offset`` to a file offset when the reader stored something cheaper (a line number).
    """
    where = locate or (lambda offset: offset)
    for c in chunks:
        if c.address < 0 or c.address + len(c.data) > ADDRESS_LIMIT:
            raise ImageError(
                f"data at {c.address:#x}+{len(c.data):#x} lies beyond the 4 GiB address space",
                path=path,
                offset=where(c.offset),
            )
    ordered = sorted((c for c in chunks if c.data), key=lambda c: c.address)
    out: list[Segment] = []
    members: list[Chunk] = []
    buf = bytearray()
    start = end = -1
    for c in ordered:
        c_end = c.address + len(c.data)
        if c.address < end:
            lo, hi = c.address, min(end, c_end)
            if buf[lo - start : hi - start] != c.data[: hi - lo]:
                raise _conflict(members, c, path, where)
            if c_end > end:
                buf += c.data[end - c.address :]
                end = c_end
            members.append(c)
            continue
        if c.address == end and join and c.name == members[-1].name:
            buf += c.data
            end = c_end
            members.append(c)
            continue
        if members:
            out.append(_segment(start, buf, members, path))
        start, end, buf, members = c.address, c_end, bytearray(c.data), [c]
    if members:
        out.append(_segment(start, buf, members, path))
    return out


def _segment(start: int, buf: bytearray, members: list[Chunk], path: str) -> Segment:
    names = list(dict.fromkeys(m.name for m in members if m.name))
    return Segment(start, bytes(buf), "+".join(names) or path)


def _conflict(members: list[Chunk], new: Chunk, path: str, where: Callable[[int], int]) -> ImageError:
    """Find the earlier piece that disagrees with ``new`` and name both in the error."""
    for old in members:
        lo, hi = max(old.address, new.address), min(old.address + len(old.data), new.address + len(new.data))
        for addr in range(lo, hi):
            a, b = old.data[addr - old.address], new.data[addr - new.address]
            if a != b:
                first = old.name or f"data from offset {where(old.offset):#x}"
                second = new.name or f"data from offset {where(new.offset):#x}"
                return ImageError(
                    f"{first} and {second} overlap with different bytes at {addr:#010x} ({a:#04x} vs {b:#04x})",
                    path=path,
                    offset=where(new.offset),
                )
    # Every earlier piece agrees byte for byte; unreachable unless members are inconsistent.
    return ImageError(f"overlapping data at {new.address:#010x}", path=path, offset=where(new.offset))
