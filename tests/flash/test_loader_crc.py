"""The loader's CRC32 is zlib's, over any address ranges (odd starts and lengths, empty ones,
more ranges than fit in one run), computed by the core at its reset clock in about 6 cycles per
byte (0.4 s per MiB at 16 MHz; a read-back through an ST-LINK/V2 at ~150 KiB/s takes ~7 s)."""

from __future__ import annotations

import random
import zlib

import pytest
from test_loader_sim import ConcurrentSimAccess

from stflash.flash.loader import FlashLoader
from stflash.sim.cortexm import RUN_AHEAD_NS

MIB = 1 << 20


def _filled(part: str, length: int, seed: int) -> tuple[ConcurrentSimAccess, bytes]:
    acc = ConcurrentSimAccess.of(part)
    base = acc.chip.chip.flash_base
    data = random.Random(seed).randbytes(length)
    assert acc.chip.rom_program(base, data).ok  # the bootloader's path: no loader involved
    return acc, data


@pytest.mark.parametrize("part", ["stm32f401re", "stm32l053r8", "stm32h743zi", "stm32g071rb"])
def test_crc_of_ranges_is_zlibs(part: str) -> None:
    acc, _ = _filled(part, 0x9000, 11)
    base = acc.chip.chip.flash_base
    ranges = [(base, 0x4000), (base + 1, 1), (base + 3, 0x1235), (base + 0x10, 0), (base + 0x2002, 0x20),
              (base + 0x8FFD, 3), (acc.chip.chip.ram[0].start + 0x10, 4)]  # RAM (the loader's own code)
    sums = FlashLoader(acc, acc.chip.chip).crc32(ranges)
    assert sums == [zlib.crc32(acc.chip.read_block(a, n)) for a, n in ranges]


def test_more_ranges_than_one_run_holds() -> None:
    """The L053's 8 KiB of RAM holds the table and about 470 entries: 1024 ranges of 64 bytes
    need three runs, and every CRC comes back in order."""
    acc, data = _filled("stm32l053r8", 0x1_0000, 12)
    loader = FlashLoader(acc, acc.chip.chip)
    ranges = [(0x0800_0000 + i * 64, 64) for i in range(1024)]
    assert 2 * ((loader.layout.work_area[1] - 1024) // 12) < len(ranges)
    assert loader.crc32(ranges) == [zlib.crc32(data[i * 64 : i * 64 + 64]) for i in range(1024)]


@pytest.mark.parametrize("part, length, hz", [
    ("stm32f401re", 128 * 1024, 16_000_000),  # HSI 16 MHz: 16 K sectors and the 64 K one
    ("stm32h743zi", 256 * 1024, 64_000_000),  # HSI 64 MHz: two 128 K sectors
])
def test_crc_pace_at_the_reset_clock(part: str, length: int, hz: int) -> None:
    acc, data = _filled(part, length, 13)
    loader = FlashLoader(acc, acc.chip.chip)
    loader.load()
    sectors = [(s.address, s.size) for s in acc.chip.sectors() if s.end <= acc.chip.chip.flash_base + length]
    core = acc.chip.cores[0]
    assert core is not None
    start, cycles = acc.chip.clock.now, core.total_cycles
    sums = loader.crc32(sectors)
    elapsed = (acc.chip.clock.now - start) / 1e9
    assert sums == [zlib.crc32(data[a - 0x0800_0000 : a - 0x0800_0000 + n]) for a, n in sectors]
    per_byte = (core.total_cycles - cycles) / length
    assert 5.5 < per_byte < 6.1  # the 16-byte loop: 90 halfwords of code, one cycle each in the model
    # the host's one pause is sized for 7 cycles a byte (ARMv6-M loads take 2), after the 10 ms
    # the simulated core runs ahead of the clock when resumed
    assert length * per_byte / hz <= elapsed < length * 7 / hz + RUN_AHEAD_NS / 1e9 + 0.005, elapsed
