"""Each way a firmware file can be wrong gives an ImageError that names the file and the offset."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import pytest

from stflash.errors import ImageError, UsageError
from stflash.image import Image, Segment, dfuse, elf, ihex, load, save, srec
from stflash.image.file import Target


def expect(path: Path, message: str, offset: int | None = None, **kwargs: object) -> ImageError:
    """Load ``path`` and check the error: our class, the file named, the offset where it applies."""
    with pytest.raises(ImageError) as caught:
        load(path, **kwargs)  # type: ignore[arg-type]
    err = caught.value
    assert err.path == str(path)
    assert str(path) in str(err)
    assert message in str(err), str(err)
    if offset is not None:
        assert err.offset == offset, str(err)
        assert f"at offset {offset:#x}:" in str(err)
    return err


def with_crc(body: bytes) -> bytes:
    """Re-seal a patched DfuSe file so the error we test is not the CRC one."""
    return body[:-4] + struct.pack("<I", dfuse.dfu_crc(body[:-4]))


SAMPLE = Image([Segment(0x0800_0000, bytes(range(64))), Segment(0x0800_4000, b"\xaa" * 40)], 0x0800_0021)


@pytest.mark.parametrize("name", ["e.dfu", "e.hex", "e.srec", "e.elf", "e.bin", "e.unknown"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    expect(tmp_path / name, "empty file", 0)


def test_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "blob.xyz").write_bytes(b"\x01\x02\x03 not firmware")
    err = expect(tmp_path / "blob.xyz", "unknown file format")
    assert err.hint and "bin" in err.hint


def test_missing_file(tmp_path: Path) -> None:
    expect(tmp_path / "nope.hex", "cannot read")


# -- DfuSe ------------------------------------------------------------------------------------
def test_dfu_bad_crc_refused_by_default(tmp_path: Path) -> None:
    data = bytearray(dfuse.dump(SAMPLE))
    data[300] ^= 0xFF
    (tmp_path / "bad.dfu").write_bytes(data)
    good = dfuse.dfu_crc(bytes(data[:-4]))
    stored = struct.unpack("<I", data[-4:])[0]
    expect(
        tmp_path / "bad.dfu",
        f"bad DFU suffix CRC (file says {stored:#010x}, computed {good:#010x})",
        len(data) - 4,
    )
    lenient = load(tmp_path / "bad.dfu", verify_crc=False)
    assert lenient.suffix is not None and not lenient.suffix.crc_ok


@pytest.mark.parametrize("keep", [1, 10, 26, 100, 300, -1, -16])
def test_dfu_truncated(tmp_path: Path, keep: int) -> None:
    (tmp_path / "cut.dfu").write_bytes(dfuse.dump(SAMPLE)[:keep])
    expect(tmp_path / "cut.dfu", "", format="dfu")


def test_dfu_without_prefix_signature(tmp_path: Path) -> None:
    (tmp_path / "x.dfu").write_bytes(with_crc(b"DfuSx" + dfuse.dump(SAMPLE)[5:]))
    expect(tmp_path / "x.dfu", "no DfuSe signature", 0, format="dfu")


def test_dfu_image_size_that_lies(tmp_path: Path) -> None:
    data = bytearray(dfuse.dump(SAMPLE))
    struct.pack_into("<I", data, 6, len(data))
    (tmp_path / "x.dfu").write_bytes(with_crc(bytes(data)))
    expect(tmp_path / "x.dfu", "prefix says the image is", 6)


def test_dfu_target_size_that_lies(tmp_path: Path) -> None:
    data = bytearray(dfuse.dump(SAMPLE))
    struct.pack_into("<I", data, 11 + 266, 0xFFFF_FFF0)
    (tmp_path / "x.dfu").write_bytes(with_crc(bytes(data)))
    expect(tmp_path / "x.dfu", "claims 4294967280 bytes but only", 11 + 266)


def test_dfu_element_count_that_lies(tmp_path: Path) -> None:
    data = bytearray(dfuse.dump(SAMPLE))
    struct.pack_into("<I", data, 11 + 270, 3)
    (tmp_path / "x.dfu").write_bytes(with_crc(bytes(data)))
    expect(tmp_path / "x.dfu", "claims 3 elements", 11 + 274 + 8 + 64 + 8 + 40)


def test_dfu_bytes_after_last_target(tmp_path: Path) -> None:
    data = bytearray(dfuse.dump(SAMPLE))
    data[10] = 0
    (tmp_path / "x.dfu").write_bytes(with_crc(bytes(data)))
    expect(tmp_path / "x.dfu", "bytes after the last target", 11)


def test_small_dfu_claiming_4gib_element_fails_before_allocating(tmp_path: Path) -> None:
    element = struct.pack("<II", 0x0800_0000, 0xFFFF_FFF0) + b"0123456789"
    target = struct.pack("<6sBI255sII", b"Target", 0, 1, b"ST...", len(element), 1)
    body = struct.pack("<5sBIB", b"DfuSe", 1, 11 + len(target) + len(element), 1) + target + element
    (tmp_path / "huge.dfu").write_bytes(dfuse.add_suffix(body, dfu_version=0x011A))
    tracemalloc.start()
    try:
        expect(tmp_path / "huge.dfu", "claims 4294967280 bytes but only 10 remain", 11 + 274 + 4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_dfu_element_beyond_4gib(tmp_path: Path) -> None:
    element = struct.pack("<II", 0xFFFF_FFF0, 32) + bytes(32)
    target = struct.pack("<6sBI255sII", b"Target", 0, 1, b"ST...", len(element), 1)
    body = struct.pack("<5sBIB", b"DfuSe", 1, 11 + len(target) + len(element), 1) + target + element
    (tmp_path / "x.dfu").write_bytes(dfuse.add_suffix(body, dfu_version=0x011A))
    expect(tmp_path / "x.dfu", "beyond the 4 GiB address space", 11 + 274)


def test_dfu_overlapping_targets_name_both(tmp_path: Path) -> None:
    flash = Target(0, "Internal Flash", Image([Segment(0x0800_0000, b"\x01" * 32)]))
    other = Target(1, "Other", Image([Segment(0x0800_0010, b"\x02" * 32)]))
    (tmp_path / "x.dfu").write_bytes(_two_targets(flash, other))
    err = expect(tmp_path / "x.dfu", "overlap with different bytes at 0x08000010")
    assert "'Internal Flash'" in str(err) and "'Other'" in str(err)
    assert err.offset == 11 + 274 + 8 + 32 + 274


def _two_targets(*targets: Target) -> bytes:
    """A DfuSe file written field by field, since our writer refuses conflicting targets."""
    body = b""
    for t in targets:
        elements = b"".join(struct.pack("<II", s.address, len(s)) + s.data for s in t.image)
        name = t.name.encode()
        body += (
            struct.pack("<6sBI255sII", b"Target", t.alt_setting, 1, name, len(elements), len(t.image))
            + elements
        )
    return dfuse.add_suffix(
        struct.pack("<5sBIB", b"DfuSe", 1, 11 + len(body), len(targets)) + body, dfu_version=0x011A
    )


def test_dfu_identical_overlap_between_targets_is_fine(tmp_path: Path) -> None:
    a = Target(0, "a", Image([Segment(0x0800_0000, b"\x01" * 32)]))
    b = Target(1, "b", Image([Segment(0x0800_0010, b"\x01" * 32)]))
    (tmp_path / "x.dfu").write_bytes(_two_targets(a, b))
    f = load(tmp_path / "x.dfu")
    assert f.image == Image([Segment(0x0800_0000, b"\x01" * 48)])
    assert [t.name for t in f.targets] == ["a", "b"]


def test_plain_dfu_file_reads_as_binary(tmp_path: Path) -> None:
    (tmp_path / "plain.dfu").write_bytes(dfuse.add_suffix(b"\x00\x50\x00\x20" * 8))
    f = load(tmp_path / "plain.dfu", address=0x0800_4000)
    assert f.format == "bin" and f.suffix is not None
    assert f.image == Image.from_bytes(b"\x00\x50\x00\x20" * 8, 0x0800_4000)


def test_bin_suffix_with_bad_crc_is_just_data(tmp_path: Path) -> None:
    data = bytearray(dfuse.add_suffix(bytes(100)))
    data[-1] ^= 1
    (tmp_path / "x.bin").write_bytes(data)
    f = load(tmp_path / "x.bin")
    assert f.suffix is None and f.image.size == 116


def test_bin_beyond_4gib(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(bytes(32))
    expect(tmp_path / "x.bin", "beyond the 4 GiB address space", 0, address=0xFFFF_FFF0)


# -- Intel HEX --------------------------------------------------------------------------------
HEX = ihex.dump(SAMPLE).decode()


def _line_offset(text: str, line: int) -> int:
    return sum(len(x) for x in text.splitlines(keepends=True)[: line - 1])


def test_hex_bad_checksum_names_line_and_offset(tmp_path: Path) -> None:
    lines = HEX.splitlines(keepends=True)
    lines[2] = lines[2][:-3] + ("00" if lines[2][-3:-1] != "00" else "01") + "\n"
    text = "".join(lines)
    (tmp_path / "x.hex").write_text(text)
    expect(tmp_path / "x.hex", "line 3: bad checksum", _line_offset(text, 3))


def test_hex_without_eof_is_truncated(tmp_path: Path) -> None:
    text = HEX.replace(":00000001FF\n", "")
    (tmp_path / "x.hex").write_text(text)
    expect(tmp_path / "x.hex", "no end-of-file record", len(text))


def test_hex_cut_mid_line(tmp_path: Path) -> None:
    (tmp_path / "x.hex").write_text(HEX[:50])
    expect(tmp_path / "x.hex", "line 2: not a valid hex record", _line_offset(HEX, 2))
    (tmp_path / "x.hex").write_text(HEX[:51])
    expect(tmp_path / "x.hex", "line 2: malformed record", _line_offset(HEX, 2))


def test_hex_unknown_record_type(tmp_path: Path) -> None:
    text = ":0100000601F8\n" + HEX
    (tmp_path / "x.hex").write_text(text)
    expect(tmp_path / "x.hex", "line 1: unknown record type 0x06", 0)


def test_hex_non_ascii(tmp_path: Path) -> None:
    (tmp_path / "x.hex").write_bytes(HEX[:30].encode() + "é".encode() + HEX[30:].encode())
    expect(tmp_path / "x.hex", "non-ASCII", 30)


def test_hex_overlap_with_different_bytes(tmp_path: Path) -> None:
    text = "\n".join(
        [
            ihex._record(4, 0, b"\x08\x00"),
            ihex._record(0, 0, b"\x01\x02\x03\x04"),
            ihex._record(0, 2, b"\x99" * 4),
        ]
    )
    text += "\n:00000001FF\n"
    (tmp_path / "x.hex").write_text(text)
    err = expect(tmp_path / "x.hex", "overlap with different bytes at 0x08000002 (0x03 vs 0x99)")
    assert err.offset == _line_offset(text, 3)


def test_hex_duplicate_records_are_fine(tmp_path: Path) -> None:
    data_lines = [ln for ln in HEX.splitlines(keepends=True) if ln.startswith(":10")]
    (tmp_path / "x.hex").write_text(HEX.replace(":00000001FF", "".join(data_lines) + ":00000001FF"))
    assert load(tmp_path / "x.hex").image == SAMPLE


def test_hex_beyond_4gib(tmp_path: Path) -> None:
    text = ":02000004FFFFFC\n:10FFF800000102030405060708090A0B0C0D0E0F81\n:00000001FF\n"
    (tmp_path / "x.hex").write_text(text)
    expect(tmp_path / "x.hex", "beyond the 4 GiB address space", _line_offset(text, 2))


def test_hex_segment_addressing_wraps_within_64k(tmp_path: Path) -> None:
    text = (
        ihex._record(2, 0, b"\x10\x00")
        + "\n"
        + ihex._record(0, 0xFFFE, b"\xaa\xbb\xcc\xdd")
        + "\n:00000001FF\n"
    )
    (tmp_path / "x.hex").write_text(text)
    image = load(tmp_path / "x.hex").image
    assert image == Image([Segment(0x1FFFE, b"\xaa\xbb"), Segment(0x10000, b"\xcc\xdd")])


def test_hex_start_segment_address(tmp_path: Path) -> None:
    (tmp_path / "x.hex").write_text(":0400000312345678E5\n:00000001FF\n")
    assert load(tmp_path / "x.hex").entry == 0x1234 * 16 + 0x5678


# -- S-records --------------------------------------------------------------------------------
SREC = srec.dump(SAMPLE).decode()


def test_srec_bad_checksum(tmp_path: Path) -> None:
    lines = SREC.splitlines(keepends=True)
    lines[1] = lines[1][:-3] + ("00" if lines[1][-3:-1] != "00" else "01") + "\n"
    text = "".join(lines)
    (tmp_path / "x.srec").write_text(text)
    expect(tmp_path / "x.srec", "line 2: bad checksum", _line_offset(text, 2))


def test_srec_truncated_at_line_break(tmp_path: Path) -> None:
    text = "".join(SREC.splitlines(keepends=True)[:3])
    (tmp_path / "x.srec").write_text(text)
    expect(tmp_path / "x.srec", "does not end in a count or termination record", len(text))


def test_srec_count_that_lies(tmp_path: Path) -> None:
    lines = SREC.splitlines(keepends=True)
    lines.insert(-1, srec._record(5, 99) + "\n")
    text = "".join(lines)
    (tmp_path / "x.srec").write_text(text)
    expect(tmp_path / "x.srec", "count record says 99 data records", _line_offset(text, len(lines) - 1))


def test_srec_beyond_4gib(tmp_path: Path) -> None:
    text = srec._record(3, 0xFFFF_FFF8, bytes(16)) + "\n" + srec._record(7, 0) + "\n"
    (tmp_path / "x.srec").write_text(text)
    expect(tmp_path / "x.srec", "beyond the 4 GiB address space", 0)


def test_srec_bad_record(tmp_path: Path) -> None:
    (tmp_path / "x.srec").write_text("S00600004844521B\nS4030000FC\nS9030000FC\n")
    expect(tmp_path / "x.srec", "line 2: not a valid S-record", 17)


# -- ELF --------------------------------------------------------------------------------------
def test_elf_without_loadable_segment(tmp_path: Path) -> None:
    (tmp_path / "x.elf").write_bytes(elf.dump(Image()))
    expect(tmp_path / "x.elf", "no loadable segment")


def test_elf_truncated(tmp_path: Path) -> None:
    (tmp_path / "x.elf").write_bytes(elf.dump(SAMPLE)[:40])
    expect(tmp_path / "x.elf", "malformed ELF file")


def test_elf_segment_past_end_of_file(tmp_path: Path) -> None:
    data = bytearray(elf.dump(SAMPLE))
    struct.pack_into("<I", data, 52 + 16, 0xFFFF_FF00)  # p_filesz of the first program header
    (tmp_path / "x.elf").write_bytes(data)
    tracemalloc.start()
    try:
        expect(tmp_path / "x.elf", "past the end of the file", 52)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_elf_program_headers_past_end_of_file(tmp_path: Path) -> None:
    data = bytearray(elf.dump(SAMPLE))
    struct.pack_into("<H", data, 0x2C, 0xFF00)  # e_phnum
    (tmp_path / "x.elf").write_bytes(data)
    expect(tmp_path / "x.elf", "program header table", 52)


def test_elf_overlapping_segments(tmp_path: Path) -> None:
    data = bytearray(elf.dump(SAMPLE))
    struct.pack_into("<I", data, 52 + 32 + 12, 0x0800_0010)  # second p_paddr onto the first
    (tmp_path / "x.elf").write_bytes(data)
    err = expect(tmp_path / "x.elf", "segment 0 and segment 1 overlap with different bytes")
    assert err.offset == 52 + 32


def test_elf_segment_beyond_4gib(tmp_path: Path) -> None:
    data = bytearray(elf.dump(SAMPLE))
    struct.pack_into("<I", data, 52 + 12, 0xFFFF_FFF0)
    (tmp_path / "x.elf").write_bytes(data)
    expect(tmp_path / "x.elf", "beyond the 4 GiB address space", 52)


def test_elf_loads_at_physical_address(tmp_path: Path) -> None:
    data = bytearray(elf.dump(Image([Segment(0x0800_0000, b"data")], 0x0800_0001)))
    struct.pack_into("<I", data, 52 + 8, 0x2000_0000)  # p_vaddr: where it runs, not where it loads
    (tmp_path / "x.elf").write_bytes(data)
    f = load(tmp_path / "x.elf")
    assert f.image == Image([Segment(0x0800_0000, b"data")]) and f.entry == 0x0800_0001


# -- options that do not fit the file ---------------------------------------------------------
def test_address_for_a_format_with_addresses(tmp_path: Path) -> None:
    save(SAMPLE, tmp_path / "x.hex")
    assert load(tmp_path / "x.hex", address=0x0800_0000).image == SAMPLE
    with pytest.raises(UsageError, match="carries its own addresses"):
        load(tmp_path / "x.hex", address=0x0800_4000)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("x.hex", {"split": True}, "split output is for raw binaries"),
        ("x.what", {}, "cannot tell the output format"),
        ("x.bin", {"fill": 0x100}, "not a byte"),
        ("x.hex", {"vendor_id": 0x1234}, "DFU suffix fields apply"),
        ("x.dfu", {"product_id": 0x10000}, "16-bit"),
        ("x.bin", {"format": "pdf"}, "unknown image format"),
    ],
)
def test_save_refuses_options_that_do_not_apply(
    tmp_path: Path, name: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        save(SAMPLE, tmp_path / name, **kwargs)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_bin_with_huge_holes_is_refused(tmp_path: Path) -> None:
    image = Image([Segment(0, b"a"), Segment(0xF000_0000, b"b")])
    with pytest.raises(ImageError, match="filling the holes would make a huge file") as caught:
        save(image, tmp_path / "x.bin")
    assert caught.value.hint is not None and "split" in caught.value.hint
    assert save(image, tmp_path / "x.bin", split=True) == [
        str(tmp_path / "x.0x00000000.bin"),
        str(tmp_path / "x.0xf0000000.bin"),
    ]
