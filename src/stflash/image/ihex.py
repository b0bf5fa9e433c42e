"""Intel HEX: a reader fast enough for multi-megabyte files, a writer in objcopy's layout.

Reading tries :mod:`._hexblocks` first, which handles the regular files every toolchain writes
in a few bulk operations; anything it does not vouch for (odd layout, segment addressing, any
error) is read here record by record, which is also what words the error: line number and the
line's byte offset in the file.
"""

from __future__ import annotations

from ..errors import ImageError
from ._chunks import Chunk, build_segments
from ._hexblocks import read_blocks
from .file import ImageFile
from .model import ADDRESS_LIMIT, Image

RECORD_SIZE = 16


def parse(data: bytes, path: str) -> ImageFile:
    """Read Intel HEX records 00-05; checksums are verified and an end-of-file record is required."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ImageError("not an Intel HEX file: non-ASCII byte", path=path, offset=exc.start) from None
    fast = read_blocks(text)
    if fast is not None:
        chunks, entry = fast
        return ImageFile(path, "hex", Image(build_segments(chunks, path), entry))
    return _parse_records(text, path)


def _parse_records(text: str, path: str) -> ImageFile:
    """The general reader: one record at a time, every irregularity reported precisely."""
    lines = text.splitlines()

    def fail(index: int, message: str) -> ImageError:
        return ImageError(f"line {index + 1}: {message}", path=path, offset=_line_offset(text, index))

    fromhex = bytes.fromhex
    chunks: list[Chunk] = []
    parts: list[bytes] = []
    run_start = run_end = -1
    run_line = 0
    base = 0
    wrap = False  # extended segment addresses wrap within 64 KiB, linear ones do not
    entry: int | None = None
    for index, line in enumerate(lines):
        try:
            record = fromhex(line[1:])
        except ValueError:
            if not line.strip():
                continue
            raise fail(index, "not a valid hex record") from None
        size = len(record)
        if line[:1] != ":" or size < 5 or record[0] + 5 != size:
            if not line.strip():
                continue
            raise fail(index, "malformed record (missing ':' or wrong length)")
        if sum(record) & 0xFF:
            raise fail(
                index, f"bad checksum {record[-1]:#04x}, expected {(record[-1] - sum(record)) & 0xFF:#04x}"
            )
        kind = record[3]
        if kind == 0:
            low = record[1] << 8 | record[2]
            address = base + low
            if address == run_end and not (wrap and low + size - 5 > 0x10000):
                parts.append(record[4:-1])
                run_end += size - 5
                continue
            if parts:
                chunks.append(Chunk(run_start, b"".join(parts), run_line))
            payload = record[4:-1]
            if wrap and low + len(payload) > 0x10000:
                head = 0x10000 - low
                chunks.append(Chunk(address, payload[:head], index))
                address, payload = base, payload[head:]
            parts = [payload]
            run_start, run_end, run_line = address, address + len(payload), index
            if run_end > ADDRESS_LIMIT:
                raise fail(index, f"data at {address:#x} reaches beyond the 4 GiB address space")
        elif kind == 1:
            break
        elif kind in (2, 4):
            if size != 7:
                raise fail(index, f"extended address record must carry 2 bytes, not {size - 5}")
            value = record[4] << 8 | record[5]
            base, wrap = (value << 4, True) if kind == 2 else (value << 16, False)
        elif kind in (3, 5):
            if size != 9:
                raise fail(index, f"start address record must carry 4 bytes, not {size - 5}")
            value = int.from_bytes(record[4:8], "big")
            if kind == 3:
                value = (value >> 16 << 4) + (value & 0xFFFF)  # CS:IP
            if entry is not None and entry != value:
                raise fail(index, f"second start address {value:#x} differs from {entry:#x}")
            entry = value
        else:
            raise fail(index, f"unknown record type {kind:#04x}")
    else:
        raise ImageError("no end-of-file record (file truncated?)", path=path, offset=len(text))
    if parts:
        chunks.append(Chunk(run_start, b"".join(parts), run_line))
    segments = build_segments(chunks, path, locate=lambda index: _line_offset(text, index))
    return ImageFile(path, "hex", Image(segments, entry))


def _line_offset(text: str, index: int) -> int:
    """Byte offset where line ``index`` starts (ASCII text, so characters are bytes)."""
    return sum(map(len, text.splitlines(keepends=True)[:index]))


def _record(kind: int, address: int, payload: bytes) -> str:
    body = bytes((len(payload), address >> 8 & 0xFF, address & 0xFF, kind)) + payload
    return ":" + (body + bytes(((-sum(body)) & 0xFF,))).hex().upper()


def dump(image: Image, *, record_size: int = RECORD_SIZE) -> bytes:
    """Intel HEX text: data records that never cross 64 KiB, type 04 records as needed, type 05
    for the entry point, then end-of-file."""
    lines: list[str] = []
    upper = 0
    for seg in image.coalesced():
        pos = seg.address
        while pos < seg.end:
            if pos >> 16 != upper:
                upper = pos >> 16
                lines.append(_record(4, 0, upper.to_bytes(2, "big")))
            stop = min(seg.end, pos + record_size, (upper + 1) << 16)
            lines.append(_record(0, pos & 0xFFFF, seg.data[pos - seg.address : stop - seg.address]))
            pos = stop
    if image.entry is not None:
        lines.append(_record(5, 0, (image.entry & 0xFFFFFFFF).to_bytes(4, "big")))
    lines.append(":00000001FF")
    return ("\n".join(lines) + "\n").encode("ascii")
