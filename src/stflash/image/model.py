"""A memory image: address-sorted, non-overlapping segments of bytes.

Every file format reads into an :class:`Image` and writes from one, so the flash planner and
every link only ever see this one shape. Segments remember where their bytes came from so a
merge conflict can name both sources.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..errors import ImageError

ADDRESS_LIMIT = 1 << 32


@dataclass(frozen=True)
class Segment:
    """Contiguous bytes at an absolute address (``source`` names the file or target they came from)."""

    address: int
    data: bytes
    source: str = ""

    def __post_init__(self) -> None:
        if self.address < 0 or self.end > ADDRESS_LIMIT:
            raise ImageError(
                f"segment {self.address:#x}+{len(self.data):#x} lies beyond the 4 GiB address space",
                path=self.source or None,
            )

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.address + len(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def crc32(self) -> int:
        return zlib.crc32(self.data) & 0xFFFFFFFF


@dataclass
class Image:
    """Segments sorted by address, never overlapping; adjacent segments are kept apart on purpose
    only when they came from different sources (so ``info`` can show the file's own layout)."""

    segments: list[Segment] = field(default_factory=list)
    entry: int | None = None

    def __post_init__(self) -> None:
        self.segments = sorted((s for s in self.segments if s.data), key=lambda s: s.address)
        for a, b in zip(self.segments, self.segments[1:], strict=False):
            if b.address < a.end:
                raise _overlap_error(a, b)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, address: int = 0x0800_0000, source: str = "") -> Image:
        return cls([Segment(address, bytes(data), source)])

    def add(self, address: int, data: bytes, source: str = "") -> None:
        """Add bytes; overlapping bytes must be identical (then they are merged silently)."""
        self.merge(Image([Segment(address, bytes(data), source)]))

    def merge(self, other: Image) -> None:
        """Merge another image into this one. Overlap with different bytes is an error that names
        both sources and the first differing address; identical overlap is accepted."""
        result: list[Segment] = list(self.segments)
        for seg in other.segments:
            result = _insert(result, seg)
        self.segments = result
        if self.entry is None:
            self.entry = other.entry

    # -- queries ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def __len__(self) -> int:
        return len(self.segments)

    def __bool__(self) -> bool:
        return bool(self.segments)

    @property
    def size(self) -> int:
        """Bytes of data (holes not counted)."""
        return sum(len(s) for s in self.segments)

    @property
    def start(self) -> int:
        if not self.segments:
            raise ImageError("image is empty")
        return self.segments[0].address

    @property
    def end(self) -> int:
        if not self.segments:
            raise ImageError("image is empty")
        return self.segments[-1].end

    @property
    def crc32(self) -> int:
        """CRC32 over the data bytes in address order (holes skipped)."""
        crc = 0
        for s in self.segments:
            crc = zlib.crc32(s.data, crc)
        return crc & 0xFFFFFFFF

    def read(self, address: int, length: int, fill: int = 0xFF) -> bytes:
        """Bytes in [address, address+length), holes filled with ``fill``."""
        out = bytearray([fill]) * length
        end = address + length
        for s in self.segments:
            if s.end <= address or s.address >= end:
                continue
            lo = max(s.address, address)
            hi = min(s.end, end)
            out[lo - address : hi - address] = s.data[lo - s.address : hi - s.address]
        return bytes(out)

    def covers(self, address: int, length: int) -> bool:
        """True when any data byte lies in the range."""
        end = address + length
        return any(s.address < end and s.end > address for s in self.segments)

    # -- transformations (each returns a new image) ----------------------------------------
    def coalesced(self) -> Image:
        """Adjacent segments joined into one (sources joined with '+')."""
        out: list[Segment] = []
        for s in self.segments:
            if out and out[-1].end == s.address:
                prev = out.pop()
                src = prev.source if prev.source == s.source or not s.source else f"{prev.source}+{s.source}"
                out.append(Segment(prev.address, prev.data + s.data, src))
            else:
                out.append(s)
        return Image(out, self.entry)

    def crop(self, start: int, end: int) -> Image:
        """Only the bytes in [start, end)."""
        out = []
        for s in self.segments:
            lo, hi = max(s.address, start), min(s.end, end)
            if lo < hi:
                out.append(Segment(lo, s.data[lo - s.address : hi - s.address], s.source))
        return Image(out, self.entry)

    def filled(self, start: int | None = None, end: int | None = None, fill: int = 0xFF) -> Image:
        """One segment from start to end with every hole filled (pads to a range)."""
        if not self.segments and (start is None or end is None):
            return Image([], self.entry)
        lo = self.start if start is None else start
        hi = self.end if end is None else end
        return Image([Segment(lo, self.read(lo, hi - lo, fill), self.segments[0].source if self else "")], self.entry)

    def padded(self, unit: int, fill: int = 0xFF) -> Image:
        """Each segment grown to ``unit``-aligned bounds (write unit of a flash), holes filled.

        Segments that become adjacent or overlapping after alignment are joined, which is what a
        flash controller sees: one flash word cannot hold bytes from two writes.
        """
        if unit <= 1:
            return self.coalesced()
        spans: list[tuple[int, int]] = []
        for s in self.segments:
            lo = s.address - s.address % unit
            hi = -(-s.end // unit) * unit
            if spans and lo <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(hi, spans[-1][1]))
            else:
                spans.append((lo, hi))
        return Image([Segment(lo, self.read(lo, hi - lo, fill), "") for lo, hi in spans], self.entry)

    def split(self, boundaries: Iterable[int]) -> Image:
        """Segments cut at each boundary (e.g. sector starts), so no segment spans two sectors."""
        cuts = sorted(set(boundaries))
        out: list[Segment] = []
        for s in self.segments:
            pos = s.address
            for c in cuts:
                if pos < c < s.end:
                    out.append(Segment(pos, s.data[pos - s.address : c - s.address], s.source))
                    pos = c
            out.append(Segment(pos, s.data[pos - s.address :], s.source))
        return Image(out, self.entry)

    def relocated(self, offset: int) -> Image:
        return Image([Segment(s.address + offset, s.data, s.source) for s in self.segments], self.entry)

    def __eq__(self, other: object) -> bool:
        """Two images are equal when they hold the same bytes at the same addresses."""
        if not isinstance(other, Image):
            return NotImplemented
        a, b = self.coalesced().segments, other.coalesced().segments
        return [(s.address, s.data) for s in a] == [(s.address, s.data) for s in b]

    __hash__ = None  # type: ignore[assignment]


def _overlap_error(a: Segment, b: Segment) -> ImageError:
    lo, hi = max(a.address, b.address), min(a.end, b.end)
    first = lo
    for i in range(lo, hi):
        if a.data[i - a.address] != b.data[i - b.address]:
            first = i
            break
    names = f"{a.source or 'one segment'} and {b.source or 'another segment'}"
    return ImageError(
        f"{names} overlap with different bytes at {first:#010x} "
        f"({a.data[first - a.address]:#04x} vs {b.data[first - b.address]:#04x})"
    )


def _insert(segments: list[Segment], new: Segment) -> list[Segment]:
    """Insert ``new`` into sorted, disjoint ``segments``; identical overlaps are folded in."""
    out: list[Segment] = []
    pending = new
    for s in segments:
        if s.end <= pending.address or s.address >= pending.end:
            out.append(s)
            continue
        lo, hi = max(s.address, pending.address), min(s.end, pending.end)
        if s.data[lo - s.address : hi - s.address] != pending.data[lo - pending.address : hi - pending.address]:
            raise _overlap_error(s, pending)
        # identical overlap: the union becomes the pending segment
        start = min(s.address, pending.address)
        end = max(s.end, pending.end)
        buf = bytearray(end - start)
        buf[s.address - start : s.end - start] = s.data
        buf[pending.address - start : pending.end - start] = pending.data
        pending = Segment(start, bytes(buf), s.source if s.source == pending.source else f"{s.source}+{pending.source}")
    out.append(pending)
    out.sort(key=lambda seg: seg.address)
    return out
