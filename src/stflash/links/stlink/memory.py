"""Cutting any (address, length) into transfers the probe's firmware accepts (stlink.md §2.4):
16/32-bit commands need an aligned address and length and move at most 6144 bytes; 8-bit
commands move at most one full-speed packet (64 bytes; more on a V3), and carry the edges.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_READ32 = 6144  # the probe's transfer buffer (OpenOCD, pyOCD, probe-rs agree)
# Writes: OpenOCD and pyOCD stop at 6144 bytes, but the probe takes more in one WRITEMEM_32BIT:
# stlink-org uploads its flash loader's 32 KiB buffers in one (stlink.md section 8.1) and probe-rs
# sends up to 65532 (section 2.4). stlink-org's 32 KiB is used: one command fills one of the flash
# loader's buffers, where 6 KiB pieces each cost a command and a status round trip.
MAX_WRITE32 = 32 * 1024
MAX_MEM16 = 6144


@dataclass(frozen=True)
class Piece:
    """One memory command: ``length`` bytes at ``address`` with ``width``-byte accesses."""

    address: int
    length: int
    width: int


def _runs(address: int, length: int, width: int, limit: int) -> list[Piece]:
    out: list[Piece] = []
    limit -= limit % width
    while length > 0:
        n = min(length, limit)
        out.append(Piece(address, n, width))
        address += n
        length -= n
    return out


def split(address: int, length: int, *, max8: int, max_wide: int, width: int = 4) -> list[Piece]:
    """Pieces covering [address, address + length): 8-bit up to the first ``width``-aligned
    address, ``width``-bit in the middle, 8-bit for the remainder."""
    if length <= 0:
        return []
    end = address + length
    first = min(end, -(-address // width) * width)
    last = max(first, end - (end - first) % width)
    pieces = _runs(address, first - address, 1, max8)
    pieces += _runs(first, last - first, width, max_wide)
    pieces += _runs(last, end - last, 1, max8)
    return pieces
