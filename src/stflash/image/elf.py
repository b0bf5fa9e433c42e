"""ELF executables: what gets flashed is each PT_LOAD segment's file bytes at its load address.

Reading uses pyelftools but slices the bytes itself, after checking each segment against the
file size, so a header that lies cannot make us allocate. Writing produces a minimal 32-bit
little-endian ARM executable (one PT_LOAD and one section per contiguous run) that readelf,
objcopy and debuggers accept.
"""

from __future__ import annotations

import io
import struct

from ..errors import ImageError
from ._chunks import Chunk, build_segments
from .file import ImageFile
from .model import Image

EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
PHDR = struct.Struct("<8I")
SHDR = struct.Struct("<10I")
EM_ARM = 40
EF_ARM_EABI_VER5 = 0x0500_0000
PT_LOAD = 1
SHT_PROGBITS, SHT_STRTAB = 1, 3
SHF_WRITE_ALLOC_EXEC = 0x7
PF_RWX = 0x7


def parse(data: bytes, path: str) -> ImageFile:
    """PT_LOAD segments with file bytes, placed at p_paddr (the LMA); e_entry 0 means no entry."""
    try:
        chunks, entry = _load_segments(data, path)
    except ImageError:
        raise
    except Exception as exc:  # pyelftools raises many types on malformed input; all mean "bad file"
        raise ImageError(f"malformed ELF file ({type(exc).__name__}: {exc})", path=path) from None
    if not chunks:
        raise ImageError("no loadable segment with data (PT_LOAD with p_filesz > 0)", path=path)
    return ImageFile(path, "elf", Image(build_segments(chunks, path, join=False), entry or None))


def _load_segments(data: bytes, path: str) -> tuple[list[Chunk], int]:
    from elftools.elf.elffile import ELFFile  # only ELF input needs pyelftools (slow to import)

    elf = ELFFile(io.BytesIO(data))
    header = elf.header
    phoff, phentsize, count = header["e_phoff"], header["e_phentsize"], elf.num_segments()
    if count and phentsize != (PHDR.size if elf.elfclass == 32 else 56):
        raise ImageError(
            f"unexpected program header size {phentsize}",
            path=path,
            offset=0x2A if elf.elfclass == 32 else 0x36,
        )
    if count and phoff + count * phentsize > len(data):
        raise ImageError(
            f"program header table ({count} x {phentsize} bytes) runs past the end of the file",
            path=path,
            offset=phoff,
        )
    chunks = []
    for index in range(count):
        segment = elf.get_segment(index)
        size, offset = segment["p_filesz"], segment["p_offset"]
        if segment["p_type"] != "PT_LOAD" or size == 0:
            continue
        if offset + size > len(data):
            raise ImageError(
                f"segment {index} claims {size} bytes at offset {offset:#x}, past the end of the file",
                path=path,
                offset=phoff + index * phentsize,
            )
        chunks.append(
            Chunk(
                segment["p_paddr"],
                data[offset : offset + size],
                phoff + index * phentsize,
                f"segment {index}",
            )
        )
    entry = header["e_entry"]
    if entry >= 1 << 32:
        raise ImageError(
            f"entry point {entry:#x} lies beyond the 4 GiB address space", path=path, offset=0x18
        )
    return chunks, entry


def dump(image: Image) -> bytes:
    """A 32-bit little-endian ARM ELF: headers, segment bytes, section names, section headers."""
    runs = image.coalesced().segments
    if len(runs) >= 0xFF00:
        raise ImageError(f"too many separate runs ({len(runs)}) for one ELF file")
    entry = image.entry or 0
    data_offset = EHDR.size + PHDR.size * len(runs)
    names = b"\0.shstrtab\0" + b"".join(b".load%d\0" % i for i in range(len(runs)))
    phdrs, shdrs, blobs = [], [SHDR.pack(*[0] * 10)], []
    offset = data_offset
    for i, seg in enumerate(runs):
        phdrs.append(PHDR.pack(PT_LOAD, offset, seg.address, seg.address, len(seg), len(seg), PF_RWX, 1))
        name = names.index(b".load%d\0" % i)
        shdrs.append(
            SHDR.pack(name, SHT_PROGBITS, SHF_WRITE_ALLOC_EXEC, seg.address, offset, len(seg), 0, 0, 1, 0)
        )
        blobs.append(seg.data)
        offset += len(seg)
    shdrs.append(SHDR.pack(1, SHT_STRTAB, 0, 0, offset, len(names), 0, 0, 1, 0))
    offset += len(names)
    pad = -offset % 4
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)
    ehdr = EHDR.pack(
        ident, 2, EM_ARM, 1, entry, EHDR.size, offset + pad, EF_ARM_EABI_VER5,
        EHDR.size, PHDR.size, len(runs), SHDR.size, len(shdrs), len(shdrs) - 1,
    )  # fmt: skip
    return b"".join([ehdr, *phdrs, *blobs, names, bytes(pad), *shdrs])
