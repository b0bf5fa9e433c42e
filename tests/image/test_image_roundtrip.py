"""Every format pair round-trips generated images; the fast HEX reader agrees with the careful one."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_strategies import images

from stflash.errors import ImageError
from stflash.image import Image, _hexblocks, ihex, load, save, srec
from stflash.image._chunks import build_segments

CARRIES_ENTRY = {"hex": True, "srec": True, "elf": True, "dfu": False, "bin": False}
SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _entry_after(image: Image, *formats: str) -> int | None:
    return image.entry if all(CARRIES_ENTRY[f] for f in formats) else None


@pytest.mark.parametrize(("first", "second"), list(product(["hex", "srec", "elf", "dfu"], repeat=2)))
@SETTINGS
@given(image=images())
def test_round_trip_between_formats(tmp_path: Path, first: str, second: str, image: Image) -> None:
    one, two = tmp_path / f"one.{first}", tmp_path / f"two.{second}"
    assert save(image, one) == [str(one)]
    loaded = load(one)
    assert loaded.format == first
    save(loaded, two)
    again = load(two)
    assert again.format == second
    assert again.image == image
    assert again.entry == _entry_after(image, first, second)


@pytest.mark.parametrize("other", ["hex", "srec", "elf", "dfu"])
@SETTINGS
@given(image=images(max_gap=4096), fill=st.sampled_from([0x00, 0xFF]))
def test_round_trip_through_bin(tmp_path: Path, other: str, image: Image, fill: int) -> None:
    """A raw binary keeps the bytes but fills the holes; placed back at the start it is the filled image."""
    flat = tmp_path / "flat.bin"
    save(image, flat, fill=fill)
    assert flat.stat().st_size == image.end - image.start
    as_bin = load(flat, format="bin", address=image.start)
    assert as_bin.image == image.filled(fill=fill)
    save(as_bin, tmp_path / f"x.{other}")
    assert load(tmp_path / f"x.{other}").image == image.filled(fill=fill)
    save(load(tmp_path / f"x.{other}"), tmp_path / "back.bin", fill=fill)
    assert (tmp_path / "back.bin").read_bytes() == flat.read_bytes()


@SETTINGS
@given(image=images(max_gap=0x0100_0000))
def test_split_bin_writes_each_run_at_its_address(tmp_path: Path, image: Image) -> None:
    written = save(image, tmp_path / "out.bin", split=True)
    runs = image.coalesced().segments
    assert written == [str(tmp_path / f"out.{s.address:#010x}.bin") for s in runs]
    rebuilt = Image()
    for name, run in zip(written, runs, strict=True):
        rebuilt.merge(load(name, format="bin", address=run.address).image)
    assert rebuilt == image


@SETTINGS
@given(image=images())
def test_srec_uses_the_smallest_address_width(image: Image) -> None:
    text = srec.dump(image).decode()
    top = max(image.end - 1, image.entry or 0)
    kind = "1" if top <= 0xFFFF else "2" if top <= 0xFF_FFFF else "3"
    kinds = {line[:2] for line in text.splitlines()}
    assert kinds <= {"S0", f"S{kind}", "S5", f"S{10 - int(kind)}"}


@SETTINGS
@given(image=images())
def test_hex_records_never_cross_64k(image: Image) -> None:
    upper = 0
    for line in ihex.dump(image).decode().splitlines():
        record = bytes.fromhex(line[1:])
        if record[3] == 4:
            upper = int.from_bytes(record[4:6], "big")
        elif record[3] == 0:
            low = int.from_bytes(record[1:3], "big")
            assert low + record[0] <= 0x10000
            assert upper << 16 | low < 1 << 32


def _careful(text: str) -> tuple[Image, int | None] | ImageError:
    try:
        result = ihex._parse_records(text, "x.hex")
    except ImageError as exc:
        return exc
    return result.image, result.entry


@settings(max_examples=150, deadline=None)
@given(
    image=images(),
    record_size=st.sampled_from([1, 7, 16, 32, 255]),
    crlf=st.booleans(),
    lower=st.booleans(),
    final_newline=st.booleans(),
)
def test_fast_hex_reader_takes_regular_files(
    image: Image, record_size: int, crlf: bool, lower: bool, final_newline: bool
) -> None:
    text = ihex.dump(image, record_size=record_size).decode()
    text = text.lower() if lower else text
    text = text.replace("\n", "\r\n") if crlf else text
    text = text if final_newline else text.rstrip()
    fast = _hexblocks.read_blocks(text)
    assert fast is not None
    chunks, entry = fast
    assert (Image(build_segments(chunks, "x.hex"), entry), entry) == _careful(text)
    assert entry == image.entry and Image(build_segments(chunks, "x.hex")) == image


@settings(max_examples=400, deadline=None)
@given(
    image=images(max_gap=64),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10_000), st.sampled_from(list(":0123456789ABCDEFaf\r\n \t")), st.integers(0, 2)
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_fast_hex_reader_never_disagrees_with_the_careful_one(
    image: Image, edits: list[tuple[int, str, int]]
) -> None:
    """On damaged text the fast path either declines or returns exactly what the careful reader does."""
    text = ihex.dump(image).decode()
    for position, char, how in edits:
        i = position % (len(text) + 1)
        text = [text[:i] + char + text[i + 1 :], text[:i] + char + text[i:], text[:i] + text[i + 1 :]][how]
    fast = _hexblocks.read_blocks(text)
    careful = _careful(text)
    if fast is not None:
        chunks, entry = fast
        try:
            quick: tuple[Image, int | None] | ImageError = (
                Image(build_segments(chunks, "x.hex"), entry),
                entry,
            )
        except ImageError:  # overlap or 4 GiB: found after the fast scan, as the careful reader finds it
            assert isinstance(careful, ImageError)
            return
        assert quick == careful
