"""The memory map a DfuSe device gives in each alternate setting's name (UM0424 §4.3.2 grammar,
dfu.md §2.10), e.g. ``@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg``.

The name runs up to the first "/" and keeps its padding; then come one or more
``/0xADDRESS/SEGMENT,SEGMENT...`` groups (the G4 option bytes have two). A segment is
``COUNT*SIZE`` followed by a multiplier (B, K, M or a space for bytes) and a type letter a..g
whose low three bits are readable/erasable/writable; "01*528e" (no multiplier) is bytes too.
The segments of a group follow each other without gaps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MULTIPLIERS = {"B": 1, " ": 1, "K": 1024, "M": 1024 * 1024}
TYPE_LETTERS = "abcdefg"
READABLE, ERASABLE, WRITABLE = 1, 2, 4

_SEGMENT = re.compile(r"\s*(\d+)\s*\*\s*(\d+)(.*)")


class LayoutError(ValueError):
    """The string does not follow the memory-map grammar."""


@dataclass(frozen=True)
class Page:
    """One erase unit (or, for memories that cannot be erased, one block) of a segment."""

    address: int
    size: int
    rights: int

    @property
    def end(self) -> int:
        return self.address + self.size


@dataclass(frozen=True)
class Segment:
    """``count`` pages of ``page_size`` bytes from ``address``, all with the same rights."""

    address: int
    page_size: int
    count: int
    rights: int

    @property
    def end(self) -> int:
        return self.address + self.page_size * self.count

    @property
    def readable(self) -> bool:
        return bool(self.rights & READABLE)

    @property
    def erasable(self) -> bool:
        return bool(self.rights & ERASABLE)

    @property
    def writable(self) -> bool:
        return bool(self.rights & WRITABLE)

    def pages(self) -> list[Page]:
        return [Page(self.address + i * self.page_size, self.page_size, self.rights) for i in range(self.count)]


@dataclass(frozen=True)
class AltLayout:
    """One alternate setting: its number, the string as the device gave it, and its memory."""

    alt: int
    text: str
    name: str  # without the "@" and the padding
    segments: tuple[Segment, ...]
    groups: tuple[tuple[int, int], ...]  # (address, size) of each address group

    @property
    def start(self) -> int:
        return self.segments[0].address if self.segments else 0

    @property
    def size(self) -> int:
        return sum(s.page_size * s.count for s in self.segments)

    def pages(self) -> list[Page]:
        return [p for s in self.segments for p in s.pages()]

    def segment_at(self, address: int) -> Segment | None:
        return next((s for s in self.segments if s.address <= address < s.end), None)

    def page_at(self, address: int) -> Page | None:
        seg = self.segment_at(address)
        if seg is None:
            return None
        index = (address - seg.address) // seg.page_size
        return Page(seg.address + index * seg.page_size, seg.page_size, seg.rights)

    def covers(self, address: int, length: int) -> bool:
        """Is every byte of the range inside this alternate's memory?"""
        pos, end = address, address + length
        for seg in self.segments:
            if seg.address <= pos < seg.end:
                pos = seg.end
        return pos >= end

    def is_kind(self, prefix: str) -> bool:
        return self.name.lower().startswith(prefix.lower())


def parse_segment(text: str) -> tuple[int, int, int]:
    """``04*016Kg`` -> (count, size in bytes, rights)."""
    m = _SEGMENT.fullmatch(text)
    if m is None:
        raise LayoutError(f"segment {text!r} is not COUNT*SIZE followed by a unit and a type letter")
    count, size, tail = int(m[1]), int(m[2]), m[3].rstrip()
    if len(tail) == 1 and tail in TYPE_LETTERS:
        unit, letter = 1, tail  # "01*528e": no multiplier, the size is in bytes
    elif len(tail) == 2 and tail[0].upper() in MULTIPLIERS and tail[1] in TYPE_LETTERS:
        unit, letter = MULTIPLIERS[tail[0].upper()], tail[1]
    else:
        raise LayoutError(f"segment {text!r}: {tail!r} is not a unit (B, K, M, space) and a type letter a..g")
    return count, size * unit, ord(letter) & 7


def parse_layout(text: str, alt: int = 0) -> AltLayout:
    """Parse one alternate setting's string; ``LayoutError`` says what does not fit."""
    raw = text.rstrip("\x00").rstrip()
    if not raw.startswith("@"):
        raise LayoutError(f"alternate setting {alt}: {text!r} does not start with '@'")
    name, *parts = raw[1:].split("/")
    if not parts or len(parts) % 2:
        raise LayoutError(f"alternate setting {alt}: {text!r} has no /0xADDRESS/SEGMENTS group")
    segments: list[Segment] = []
    groups: list[tuple[int, int]] = []
    for address_text, segs_text in zip(parts[0::2], parts[1::2], strict=True):
        try:
            start = int(address_text.strip(), 16)
        except ValueError:
            raise LayoutError(f"alternate setting {alt}: address {address_text!r} is not hexadecimal") from None
        address = start
        for seg_text in segs_text.split(","):
            if not seg_text.strip():
                continue
            count, size, rights = parse_segment(seg_text)
            if count == 0 or size == 0:
                continue
            segments.append(Segment(address, size, count, rights))
            address += size * count
        groups.append((start, address - start))
    if not segments:
        raise LayoutError(f"alternate setting {alt}: {text!r} describes no memory")
    return AltLayout(alt, text, name.strip(), tuple(segments), tuple(groups))
