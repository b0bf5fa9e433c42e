"""Reading the bench's chip directly, and random images, for the end-to-end link tests."""

from __future__ import annotations

import random
from pathlib import Path

from stflash.sim.bench import Bench


def flash_bytes(directory: Path, address: int, length: int) -> bytes:
    """What the chip holds, read past every link (as the ROM reads it)."""
    with Bench.open(directory) as b:
        return b.chip.rom_read(address, length)


def clock(directory: Path) -> int:
    with Bench.open(directory) as b:
        return b.clock.now


def random_file(tmp_path: Path, size: int, seed: int = 1) -> tuple[Path, bytes]:
    data = random.Random(seed).randbytes(size)
    path = tmp_path / f"r{size}-{seed}.bin"
    path.write_bytes(data)
    return path, data
