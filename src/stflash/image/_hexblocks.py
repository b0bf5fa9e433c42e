"""Bulk reading of regular Intel HEX files, the layout objcopy, srec_cat and IDEs write.

The whole text goes through one ``bytes.fromhex``; runs of same-length data records at
consecutive addresses are then checked (line layout, counts, types, addresses, checksums) and
unpacked column by column with strided slices, so Python works per 64 KiB block rather than
per record or per byte. Anything irregular or wrong returns ``None``: the record-by-record
reader in :mod:`.ihex` then reads the file and words any error.
"""

from __future__ import annotations

import sys
from array import array

from ._chunks import Chunk
from .model import ADDRESS_LIMIT


def read_blocks(text: str) -> tuple[list[Chunk], int | None] | None:
    """Chunks (offsets are byte offsets of lines) and entry point, or ``None`` to fall back."""
    if not text.startswith(":") or any(c in text for c in " \t\v\f"):
        return None
    eol = "\r\n" if "\r" in text else "\n"
    try:
        raw = bytes.fromhex(text.replace(":", ""))
    except ValueError:
        return None
    chunks: list[Chunk] = []
    entry: int | None = None
    base = p = q = records = 0
    while True:
        if p + 5 > len(raw):
            return None
        n = raw[p]
        length, width = n + 5, 2 * n + 11 + len(eol)
        kind, low = raw[p + 3], raw[p + 1] << 8 | raw[p + 2]
        if kind == 0 and n:
            k = _uniform_run(raw, p, length, min((len(raw) - p) // length, (0x10000 - low) // n), low)
            if k > 1:
                if (
                    base + low + k * n > ADDRESS_LIMIT
                    or not _lines_ok(text, q, width, k, eol)
                    or not _checksums_ok(raw, p, length, k)
                ):
                    return None
                chunks.append(Chunk(base + low, _data(raw, p, length, k), q))
                p, q, records = p + k * length, q + k * width, records + k
                continue
        record = raw[p : p + length]
        last_line = q + width - len(eol) == len(text)
        if (
            len(record) != length
            or sum(record) & 0xFF
            or text[q : q + 1] != ":"
            or not (last_line or text[q + width - len(eol) : q + width] == eol)
        ):
            return None
        p, q, records = p + length, min(q + width, len(text)), records + 1
        if kind == 0:
            if base + low + n > ADDRESS_LIMIT:
                return None
            chunks.append(Chunk(base + low, record[4:-1], q - width))
        elif kind == 1:
            break
        elif kind == 4 and n == 2:
            base = (record[4] << 8 | record[5]) << 16
        elif kind in (3, 5) and n == 4:
            value = int.from_bytes(record[4:8], "big")
            if kind == 3:
                value = (value >> 16 << 4) + (value & 0xFFFF)
            if entry is not None and entry != value:
                return None
            entry = value
        else:
            return None
        if last_line:
            return None
    # Every ':' and line break before the end-of-file record must sit where a record put it.
    breaks = records - (q == len(text) and not text.endswith("\n"))
    if text.count(":", 0, q) != records or text.count("\n", 0, q) != breaks:
        return None
    if eol == "\r\n" and text.count("\r", 0, q) != breaks:
        return None
    return chunks, entry


def _uniform_run(raw: bytes, p: int, length: int, k: int, low: int) -> int:
    """How many of the next ``k`` records are data records of this length at consecutive addresses."""
    n = length - 5
    stop = p + k * length
    counts, kinds = raw[p:stop:length], raw[p + 3 : stop : length]
    highs, lows = raw[p + 1 : stop : length], raw[p + 2 : stop : length]
    addresses = array("H", range(low, low + k * n, n))
    if sys.byteorder == "little":
        addresses.byteswap()
    expected = addresses.tobytes()

    def ok(j: int) -> bool:
        return (
            counts[:j] == bytes((n,)) * j
            and kinds[:j] == bytes(j)
            and highs[:j] == expected[0 : 2 * j : 2]
            and lows[:j] == expected[1 : 2 * j : 2]
        )

    if ok(k):
        return k
    good, bad = 1, k  # the first record matches by construction
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if ok(mid) else (good, mid)
    return good


def _lines_ok(text: str, q: int, width: int, k: int, eol: str) -> bool:
    """Each of ``k`` records is alone on its line: ':' first, the line break right after it."""
    stop = q + k * width
    if text[q:stop:width] != ":" * k:
        return False
    return all(text[q + width - len(eol) + i : stop : width] == c * k for i, c in enumerate(eol))


def _checksums_ok(raw: bytes, p: int, length: int, k: int) -> bool:
    """All ``k`` record checksums at once: byte columns are added as lanes of one big integer,
    each lane wide enough never to carry into the next, and every lane must end in 0x00."""
    lane = 2 if length * 255 < 0x10000 else 3
    stop = p + k * length
    total = 0
    for column in range(length):
        wide = bytearray(lane * k)
        wide[lane - 1 :: lane] = raw[p + column : stop : length]
        total += int.from_bytes(wide, "big")
    return total.to_bytes(lane * k, "big")[lane - 1 :: lane] == bytes(k)


def _data(raw: bytes, p: int, length: int, k: int) -> bytes:
    """The data bytes of ``k`` uniform records, gathered one column at a time."""
    n = length - 5
    out = bytearray(k * n)
    stop = p + k * length
    for column in range(n):
        out[column::n] = raw[p + 4 + column : stop : length]
    return bytes(out)
