"""Reading the bench's chip directly, random images, and a scripted DFU device for the link tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stflash.links.dfu.dfuse import DfuStatus
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


@dataclass
class ScriptedDfu:
    """A pyusb-like DFU device: answers GETSTATUS from a queue (an exception is raised instead),
    and logs every request as (name, wValue, timeout for GETSTATUS / length for the others)."""

    statuses: list[DfuStatus | Exception] = field(default_factory=list)
    uploads: Callable[[int, int], bytes] = lambda block, n: bytes(n)
    log: list[tuple[str, int, int]] = field(default_factory=list)

    NAMES = {0x01: "DNLOAD", 0x02: "UPLOAD", 0x03: "GETSTATUS", 0x04: "CLRSTATUS", 0x06: "ABORT"}

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.log]

    def ctrl_transfer(self, rtype: int, req: int, value: int, index: int, data: object, timeout: int) -> object:
        name = self.NAMES[req]
        if req == 0x03:
            self.log.append((name, value, timeout))
            item = self.statuses.pop(0)
            if isinstance(item, Exception):
                raise item
            return bytes([item.status]) + item.poll_ms.to_bytes(3, "little") + bytes([item.state, 0])
        if req == 0x01:
            payload = bytes(data)  # type: ignore[call-overload]
            self.log.append((name, value, len(payload)))
            return len(payload)
        if req == 0x02:
            self.log.append((name, value, int(data)))  # type: ignore[call-overload]
            return self.uploads(value, int(data))  # type: ignore[call-overload]
        self.log.append((name, value, 0))
        return 0
