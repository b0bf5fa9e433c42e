"""Motorola S-records (S0-S9): what objcopy, srec_cat and many IDEs emit as ``.srec``/``.s19``/``.mot``.

Every record's byte count and checksum are verified and S5/S6 counts must match the data records
seen. The file must end in a count or termination record (S5-S9), so a file cut at a line break
is not taken for a short one: srec_cat ends with S5 and omits S7-S9 when it knows no start
address. The termination record's address becomes the entry point; 0 means "none", as writers
put 0 there when they know no entry.
"""

from __future__ import annotations

from ..errors import ImageError
from ._chunks import Chunk, build_segments
from .file import ImageFile
from .model import Image

RECORD_SIZE = 16
ADDRESS_BYTES = {"0": 2, "1": 2, "2": 3, "3": 4, "5": 2, "6": 3, "7": 4, "8": 3, "9": 2}


def parse(data: bytes, path: str) -> ImageFile:
    """Read S-records; errors name the line and its byte offset."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ImageError("not an S-record file: non-ASCII byte", path=path, offset=exc.start) from None
    lines = text.splitlines(keepends=True)
    chunks: list[Chunk] = []
    data_records = 0
    offset = 0
    entry: int | None = None
    kind = ""
    for index, line in enumerate(lines):
        here, offset = offset, offset + len(line)
        line = line.strip()
        if not line:
            continue
        kind = line[1:2]
        width = ADDRESS_BYTES.get(kind)
        try:
            record = bytes.fromhex(line[2:])
        except ValueError:
            record = b""
        if (
            line[0] != "S"
            or width is None
            or not record
            or record[0] + 1 != len(record)
            or record[0] < width + 1
        ):
            raise ImageError(f"line {index + 1}: not a valid S-record", path=path, offset=here)
        if sum(record) & 0xFF != 0xFF:
            expected = ~(sum(record) - record[-1]) & 0xFF
            raise ImageError(
                f"line {index + 1}: bad checksum {record[-1]:#04x}, expected {expected:#04x}",
                path=path,
                offset=here,
            )
        address = int.from_bytes(record[1 : 1 + width], "big")
        if kind in "123":
            chunks.append(Chunk(address, record[1 + width : -1], here))
            data_records += 1
        elif kind in "56" and address != data_records:
            raise ImageError(
                f"line {index + 1}: count record says {address} data records, the file has {data_records}",
                path=path,
                offset=here,
            )
        elif kind in "789":
            entry = address or None
            break
    else:
        if kind not in ("5", "6"):
            raise ImageError(
                "the file does not end in a count or termination record (S5-S9): truncated?",
                path=path,
                offset=len(data),
            )
    return ImageFile(path, "srec", Image(build_segments(chunks, path), entry))


def _record(kind: int, address: int, payload: bytes = b"") -> str:
    width = ADDRESS_BYTES[str(kind)]
    body = bytes((width + len(payload) + 1,)) + address.to_bytes(width, "big") + payload
    return f"S{kind}" + (body + bytes((~sum(body) & 0xFF,))).hex().upper()


def dump(image: Image, *, header: bytes = b"stflash", record_size: int = RECORD_SIZE) -> bytes:
    """S-record text using the smallest address width that fits, S0 header, S5/S6 count and
    a termination record carrying the entry point (0 when there is none)."""
    top = max(image.end - 1 if image else 0, image.entry or 0)
    kind = 1 if top <= 0xFFFF else 2 if top <= 0xFFFFFF else 3
    lines = [_record(0, 0, header[:64])]
    for seg in image.coalesced():
        for pos in range(0, len(seg), record_size):
            lines.append(_record(kind, seg.address + pos, seg.data[pos : pos + record_size]))
    count = len(lines) - 1
    if count <= 0xFFFFFF:
        lines.append(_record(5 if count <= 0xFFFF else 6, count))
    lines.append(_record(10 - kind, image.entry or 0))
    return ("\n".join(lines) + "\n").encode("ascii")
