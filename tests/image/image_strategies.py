"""Hypothesis strategies shared by the image tests."""

from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

from stflash.image import Image, Segment

ADDRESSES = st.one_of(
    st.integers(0, 0x1_0000),
    st.integers(0x0800_0000 - 0x100, 0x0810_0000),
    st.integers(0xFFC0, 0x1_0010),
    st.integers(0, 0xFFFF_FF00),
    st.integers(0xFFFF_FF00, 0xFFFF_FFFF),
)


@st.composite
def images(draw: st.DrawFn, max_gap: int = 0x0200_0000, entry: bool = True) -> Image:
    """A few segments (sometimes touching, sometimes far apart) below 4 GiB, maybe an entry point."""
    address = draw(ADDRESSES)
    segments = []
    for _ in range(draw(st.integers(1, 4))):
        data = draw(st.binary(min_size=1, max_size=80))
        if address + len(data) > 1 << 32:
            break
        segments.append(Segment(address, data, "generated"))
        address += len(data) + draw(st.integers(0, max_gap))
    assume(segments)
    return Image(segments, draw(st.none() | st.integers(1, 0xFFFF_FFFF)) if entry else None)
