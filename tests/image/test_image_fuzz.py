"""Random and damaged input: every reader either succeeds or raises ImageError, and stays small."""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stflash.errors import ImageError
from stflash.image import Image, Segment, binary, dfuse, elf, ihex, load, srec
from stflash.image.file import ImageFile, Target

Reader = Callable[[bytes], object]
READERS: dict[str, Reader] = {
    "dfu": lambda d: dfuse.parse(d, "f.dfu"),
    "dfu-no-crc": lambda d: dfuse.parse(d, "f.dfu", verify_crc=False),
    "hex": lambda d: ihex.parse(d, "f.hex"),
    "srec": lambda d: srec.parse(d, "f.srec"),
    "elf": lambda d: elf.parse(d, "f.elf"),
    "bin": lambda d: binary.parse(d, "f.bin", address=0xFFFF_FF00),
}
PEAK_LIMIT = 8 << 20
"""Inputs here are at most a few KiB; anything near this means a size field was believed."""

_A = Image([Segment(0x0800_0000, bytes(range(256)) * 2), Segment(0x0800_4000, b"\x5a" * 33)], 0x0800_0101)
_B = Image([Segment(0x2000_0000, b"\x01\x02\x03"), Segment(0x0000_FFF8, bytes(20))], 1)
_TARGETS = ImageFile(
    "t.dfu",
    "dfu",
    Image([Segment(0x0800_0000, b"\x11" * 40), Segment(0x1FFF_C000, b"\xaa\xbb")]),
    [
        Target(0, "Internal Flash", Image([Segment(0x0800_0000, b"\x11" * 40)])),
        Target(1, "Option Bytes", Image([Segment(0x1FFF_C000, b"\xaa\xbb")])),
    ],
)
SEEDS: dict[str, list[bytes]] = {
    "dfu": [dfuse.dump(_A), dfuse.dump(_B), dfuse.dump(_TARGETS)],
    "hex": [ihex.dump(_A), ihex.dump(_B, record_size=32)],
    "srec": [srec.dump(_A), srec.dump(_B)],
    "elf": [elf.dump(_A), elf.dump(_B)],
    "bin": [dfuse.add_suffix(bytes(range(64))), bytes(range(48))],
}
SEEDS["dfu-no-crc"] = SEEDS["dfu"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_image_errors(reader: Reader, data: bytes) -> None:
    """Run the reader under tracemalloc: ImageError is the only failure allowed, memory stays small."""
    tracemalloc.start()
    try:
        reader(data)
    except ImageError as exc:
        assert exc.path is not None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_LIMIT + 4 * len(data), peak


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply edits: overwrite a byte, insert, delete, truncate, or plant a 32-bit value (often a
    size or address field) that is huge, zero or just past the end of the file."""
    out = bytearray(data)
    for position, op, value in edits:
        i = position % (len(out) + 1)
        if op == 0 and i < len(out):
            out[i] = value & 0xFF
        elif op == 1:
            out.insert(i, value & 0xFF)
        elif op == 2:
            del out[i : i + 1 + value % 8]
        elif op == 3:
            del out[i:]
        elif op == 4 and i + 4 <= len(out):
            word = [value, 0xFFFF_FFFF, 0, len(out) + 1, 0xFFFF_FFF0, 0x8000_0000][value % 6]
            struct.pack_into("<I", out, i, word & 0xFFFF_FFFF)
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 1 << 16), st.integers(0, 4), st.integers(0, 0xFFFF_FFFF)), min_size=1, max_size=4
)


@pytest.mark.parametrize("reader", READERS)
@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(reader: str, data: bytes) -> None:
    only_image_errors(READERS[reader], data)


@pytest.mark.parametrize("reader", READERS)
@FUZZ
@given(seed=st.integers(0, 2), edits=EDITS, reseal=st.booleans())
def test_mutated_valid_files(reader: str, seed: int, edits: list[tuple[int, int, int]], reseal: bool) -> None:
    seeds = SEEDS[reader]
    data = mutate(seeds[seed % len(seeds)], edits)
    if reseal and reader.startswith("dfu") and len(data) >= 4:
        data = data[:-4] + struct.pack("<I", dfuse.dfu_crc(data[:-4]))  # get past the CRC check
    only_image_errors(READERS[reader], data)


@pytest.mark.parametrize("reader", ["hex", "srec"])
@FUZZ
@given(
    seed=st.integers(0, 1),
    edits=st.lists(
        st.tuples(
            st.integers(0, 1 << 16), st.sampled_from(b"0123456789ABCDEFS:\r\n \x00"), st.integers(0, 2)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_text_records(reader: str, seed: int, edits: list[tuple[int, int, int]]) -> None:
    """Damage made of plausible characters gets past the first checks and into the record logic."""
    data = bytearray(SEEDS[reader][seed])
    for position, char, how in edits:
        i = position % (len(data) + 1)
        if how == 0 and i < len(data):
            data[i] = char
        elif how == 1:
            data.insert(i, char)
        else:
            del data[i : i + 1]
    only_image_errors(READERS[reader], bytes(data))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=512),
        st.sampled_from([s for v in SEEDS.values() for s in v]).flatmap(
            lambda seed: EDITS.map(lambda edits: mutate(seed, edits))
        ),
    ),
    name=st.sampled_from(["f.dfu", "f.hex", "f.srec", "f.s19", "f.elf", "f.bin", "f", "f.txt"]),
)
def test_load_detects_and_reads_or_raises_image_error(tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    only_image_errors(lambda _: load(path), data)
