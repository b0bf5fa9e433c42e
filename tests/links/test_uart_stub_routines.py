"""The stub's own loops, through the library on the virtual bench: CRC32 of ranges that start and
end anywhere, blank checks that find one programmed word wherever it sits, and the compare after
programming naming the first byte that reads back wrong."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest

from stflash.chips.model import Sector
from stflash.errors import VerifyError
from stflash.session import Session
from stflash.sim.bench import Bench

from linkbench import flash_bytes

BASE = 0x0800_0000
BIG = (BASE + 0x10000, 0x4000)  # a range big enough that the host starts the stub for it


def _fill(directory: Path, data: bytes, at: int = BASE) -> None:
    with Bench.open(directory) as b:
        b.chip.rom_program(at, data)


def test_crc_of_ranges_starting_and_ending_anywhere(bench) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    _fill(directory, random.Random(7).randbytes(0x1000))
    ranges = [BIG, (BASE, 1), (BASE + 1, 3), (BASE + 2, 4), (BASE + 3, 17), (BASE + 4, 16), (BASE + 5, 37),
              (BASE + 0x100, 0x400), (BASE + 0x101, 0x3FE), (BASE + 0x7FF, 2), (BASE + 0xFFC, 4)]
    with Session.open("uart:sim") as session:
        found = session.link.check_ranges(ranges)
    assert found is not None
    sums, _ = found
    expected = [zlib.crc32(flash_bytes(directory, a, n)) & 0xFFFF_FFFF for a, n in ranges]
    assert sums == expected


@pytest.mark.parametrize("offset", [0x0, 0x4, 0x8, 0xC, 0x10, 0x14, 0x3F8, 0x3FC])
def test_a_blank_check_finds_one_programmed_word_wherever_it_is(offset: int, bench) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    sector = 0x0800_4000  # sector 1 (16 KiB)
    _fill(directory, b"\x00\xff\xff\xff", sector + offset)
    with Session.open("uart:sim") as session:
        chip = session.chip
        sectors = [s for s in chip.sectors() if s.address in (sector, 0x0800_8000)]
        found = session.link.check_ranges([BIG], sectors)
    assert found is not None
    assert found[1] == {sectors[0].index: False, sectors[1].index: True}


@pytest.mark.parametrize("offset", [0x0, 0x4, 0x8, 0x18, 0x40, 0x70])
def test_a_blank_check_of_a_range_off_the_16_byte_grid(offset: int, bench) -> None:  # type: ignore[no-untyped-def]
    """Sectors are aligned, but the loop must not be: three words to the grid, four a turn, then
    the last three one at a time."""
    directory = bench("nucleo-f401re")
    start = 0x0800_4004
    _fill(directory, b"\xff\xff\xff\x7f", start + offset)
    ranges = [Sector(100, 0, 0, start, 0x74), Sector(101, 0, 0, start + 0x100, 0x74)]
    with Session.open("uart:sim") as session:
        found = session.link.check_ranges([BIG], ranges)
    assert found is not None
    assert found[1] == {100: False, 101: True}  # every offset lies inside the first range


@pytest.mark.parametrize(("where", "length"), [(0x0, 0x1000), (0x4, 0x1000), (0x8, 0x1000), (0x7FC, 0x1000),
                                               (0x1000, 0x1004)])
def test_the_compare_after_programming_names_the_first_wrong_byte(where: int, length: int, bench) -> None:  # type: ignore[no-untyped-def]
    """On an F4 (no ECC) programming over programmed bits leaves them 0: the read-back differs
    from the frame's data, and the stub reports the first such byte (here the second of its word):
    in the first or the second word of a pair, or in a frame's last single word."""
    directory = bench("nucleo-f401re")
    at = 0x0800_4000
    _fill(directory, b"\xff\x00", at + where)
    data = bytes(range(1, 256)) * 33  # no zero byte: the programmed 0x00 always reads back wrong
    with Session.open("uart:sim") as session, pytest.raises(VerifyError) as caught:
        session.link.erase_and_program((), [(at, data[:length])])
    assert caught.value.address == at + where + 1
    assert f"{at + where + 1:#010x}" in str(caught.value)
