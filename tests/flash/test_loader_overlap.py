"""Double buffering really overlaps: while the core programs one buffer the probe fills the
other, so a write costs the flash's time plus one fill, where a single buffer costs both in turn.
Measured on the virtual clock with the same probe model in both runs: 256 KiB on an H743 (32-byte
flash words, 100 us each) through SimAccess's wire, and 64 KiB on an L476 (double words, 81.7 us)
through a wire of 500 KB/s, where a fill takes a fifth of a buffer's programming."""

from __future__ import annotations

import random

import pytest
from test_loader_sim import PARTS, ConcurrentSimAccess, unit_ns

from stflash.flash.loader import FlashLoader
from stflash.flash.loader.layout import DESCRIPTOR_SIZE


def _write(key: str, size: int, buffer: int, ns_per_byte: float, buffers: int) -> tuple[int, ConcurrentSimAccess]:
    part = PARTS[key]
    acc = ConcurrentSimAccess.of(part.name, ns_per_byte=ns_per_byte)
    part.enter(acc)
    loader = FlashLoader(acc, acc.chip.chip, buffers=buffers, max_buffer=buffer)
    loader.load()
    data = random.Random(14).randbytes(size)
    start = acc.chip.clock.now
    loader.program(0x0800_0000, data, part.setup)
    elapsed = acc.chip.clock.now - start
    assert acc.chip.read_block(0x0800_0000, size) == data
    return elapsed, acc


@pytest.mark.parametrize("key, size, buffer, ns_per_byte", [
    ("stm32h743zi", 256 * 1024, 16 * 1024, 0.0),
    ("stm32l476rg", 64 * 1024, 4 * 1024, 2000.0),
])
def test_double_buffering_hides_the_fills(key: str, size: int, buffer: int, ns_per_byte: float) -> None:
    double, acc = _write(key, size, buffer, ns_per_byte, 2)
    single, _ = _write(key, size, buffer, ns_per_byte, 1)
    part = PARTS[key]
    n = size // buffer
    program = buffer // part.setup.unit * unit_ns(acc, part)  # one buffer's flash time
    fill = acc.cost_ns(buffer + DESCRIPTOR_SIZE)  # its data and descriptor, in one write
    assert fill < program  # so with two buffers every fill after the first two hides
    # a single buffer leaves the core idle during each of the n - 1 refills; two buffers start
    # with both full and refill while the core works: at least n - 2 fills fewer on the clock
    assert single - double >= (n - 2) * fill
    assert n * program <= double < n * program * 1.1 + 2 * fill + 15_000_000
