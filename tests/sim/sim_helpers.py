"""Small helpers for driving a simulated chip the way a reference-manual procedure does."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stflash.chips.lookup import find_chip
from stflash.chips.model import Chip
from stflash.sim.chip import SimChip


def part(name: str) -> Chip:
    return find_chip(name)


def make(name: str, **kwargs: object) -> SimChip:
    return SimChip(find_chip(name), **kwargs)  # type: ignore[arg-type]


def key_unlock(sim: SimChip, keyr: int, keys: Sequence[int], status: int, lock_bit: int) -> None:
    """Write the keys only while ``lock_bit`` of ``status`` reads locked (keying an unlocked
    register locks it until reset), then check that it reads unlocked."""
    if sim.read32(status) & lock_bit:
        for key in keys:
            sim.write32(keyr, key)
    assert not sim.read32(status) & lock_bit


def poll_clear(sim: SimChip, address: int, bits: int, step_ns: int = 1_000, limit: int = 10**7) -> int:
    """Read ``address`` until ``bits`` are clear, advancing the clock by ``step_ns`` between reads
    (what a probe's USB round trips do); returns the number of reads."""
    reads = 0
    while sim.read32(address) & bits:
        reads += 1
        assert reads < limit, f"{address:#x} stayed busy"
        sim.clock.advance(step_ns)
    return reads


def busy_for(sim: SimChip, status: int, bit: int, start: Callable[[], None]) -> int:
    """Run ``start`` and return exactly how long ``bit`` stays set in the status register,
    measured on the virtual clock without polling overshoot."""
    t0 = sim.clock.now
    start()
    assert sim.read32(status) & bit, "the operation did not set its busy bit"
    end = sim.busy_until
    sim.clock.advance_to(end - 1)
    assert sim.read32(status) & bit, "busy cleared early"
    sim.clock.advance(1)
    assert not sim.read32(status) & bit, "busy still set at the datasheet time"
    return sim.clock.now - t0
