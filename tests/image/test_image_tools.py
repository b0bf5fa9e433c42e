"""Our files against the real corpus and the reference tools: dfu-suffix, srec_cat, readelf, objcopy."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_strategies import images

from stflash.image import Image, Segment, load, save
from stflash.image.dfuse import add_suffix, dfu_crc

Tool = Callable[[str], str]
TOOL_SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)


def bitwise_dfu_crc(data: bytes) -> int:
    """The DFU CRC computed the slow, obvious way: reflected CRC-32, init all ones, no final xor."""
    crc = 0xFFFF_FFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB8_8320 if crc & 1 else 0)
    return crc


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_dfu_crc_is_the_standard_dfu_crc(data: bytes) -> None:
    assert dfu_crc(data) == bitwise_dfu_crc(data)


def test_corpus_reads(corpus: list[Path]) -> None:
    for path in corpus:
        f = load(path)
        assert f.format == "dfu"
        assert f.suffix is not None and f.suffix.crc_ok
        assert (f.suffix.vendor_id, f.suffix.product_id, f.suffix.dfu_version) == (0x0483, 0xDF11, 0x011A)
        assert f.targets and all(t.image for t in f.targets)
        merged = Image()
        for t in f.targets:
            merged.merge(t.image)
        assert merged == f.image
        assert f.image.start == 0x0800_0000


def test_corpus_rewrites_byte_for_byte(corpus: list[Path], tmp_path: Path) -> None:
    """These files were made the way dfuse-pack makes them; our writer reproduces them exactly."""
    for path in corpus:
        out = tmp_path / path.name
        save(load(path), out)
        assert out.read_bytes() == path.read_bytes()


def test_corpus_dfu_hex_dfu(corpus: list[Path], tmp_path: Path, require_tool: Tool) -> None:
    dfu_suffix = require_tool("dfu-suffix")
    for path in corpus:
        original = load(path)
        save(original, tmp_path / "x.hex")
        save(load(tmp_path / "x.hex"), tmp_path / "x.dfu")
        again = load(tmp_path / "x.dfu")
        assert [(s.address, s.data) for s in again.image.coalesced()] == [
            (s.address, s.data) for s in original.image.coalesced()
        ]
        assert again.suffix is not None and again.suffix.crc_ok
        check = run(dfu_suffix, "-c", tmp_path / "x.dfu")
        assert check.returncode == 0, check.stderr
        assert "contains a DFU suffix" in check.stdout
        assert f"CRC:\t\t{again.suffix.crc:#010X}".replace("0X", "0x") in check.stdout


@TOOL_SETTINGS
@given(image=images(), ids=st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)))
def test_dfu_suffix_accepts_our_dfu(
    tmp_path: Path, require_tool: Tool, image: Image, ids: tuple[int, int, int]
) -> None:
    dfu_suffix = require_tool("dfu-suffix")
    vid, pid, bcd = ids
    save(image, tmp_path / "g.dfu", vendor_id=vid, product_id=pid, device_version=bcd)
    check = run(dfu_suffix, "-c", tmp_path / "g.dfu")
    assert check.returncode == 0, check.stderr
    for label, value in (("Vendor ID", vid), ("Product ID", pid), ("BCD device", bcd), ("BCD DFU", 0x011A)):
        assert f"{label}:\t0x{value:04X}" in check.stdout


def test_plain_suffix_matches_dfu_suffix_tool(tmp_path: Path, require_tool: Tool) -> None:
    dfu_suffix = require_tool("dfu-suffix")
    raw = bytes(range(256)) * 3
    plain = tmp_path / "plain.bin"
    plain.write_bytes(raw)
    assert run(dfu_suffix, "-a", plain).returncode == 0
    assert plain.read_bytes() == add_suffix(raw)
    f = load(plain)
    assert f.image == Image.from_bytes(raw) and f.suffix is not None and f.suffix.dfu_version == 0x0100
    tagged = tmp_path / "tagged.bin"
    tagged.write_bytes(raw)
    assert run(dfu_suffix, "-a", tagged, "-v", "1234", "-p", "abcd", "-d", "0042").returncode == 0
    ours = tmp_path / "ours.bin"
    save(Image.from_bytes(raw), ours, vendor_id=0x1234, product_id=0xABCD, device_version=0x0042)
    assert ours.read_bytes() == tagged.read_bytes()
    assert run(dfu_suffix, "-c", ours).returncode == 0


def _srec_cat_flat(tool: str, path: Path, image: Image, *reader: str) -> bytes:
    lo, hi = image.start, image.end
    out = path.with_suffix(".flat")
    args = [
        path,
        *reader,
        "-fill",
        "0xFF",
        f"{lo:#x}",
        f"{hi:#x}",
        "-offset",
        f"{-lo:#x}",
        "-o",
        out,
        "-binary",
    ]
    done = run(tool, *args)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr.lower(), done.stderr
    return out.read_bytes()


def test_srec_cat_reads_our_corpus_conversions(
    corpus: list[Path], tmp_path: Path, require_tool: Tool
) -> None:
    srec_cat = require_tool("srec_cat")
    for path in corpus:
        image = load(path).image
        save(image, tmp_path / "c.hex")
        save(image, tmp_path / "c.srec")
        want = image.read(image.start, image.end - image.start)
        assert _srec_cat_flat(srec_cat, tmp_path / "c.hex", image, "-intel") == want
        assert _srec_cat_flat(srec_cat, tmp_path / "c.srec", image) == want


@TOOL_SETTINGS
@given(image=images(max_gap=4096))
def test_srec_cat_reads_our_hex_and_srec(tmp_path: Path, require_tool: Tool, image: Image) -> None:
    srec_cat = require_tool("srec_cat")
    if image.end > 0xFFFF_0000:  # srec_cat's -fill/-offset arithmetic wraps there; see the test below
        return
    want = image.read(image.start, image.end - image.start)
    save(image, tmp_path / "g.hex")
    save(image, tmp_path / "g.srec")
    assert _srec_cat_flat(srec_cat, tmp_path / "g.hex", image, "-intel") == want
    assert _srec_cat_flat(srec_cat, tmp_path / "g.srec", image) == want


def test_srec_cat_reencodes_our_records_at_the_top_of_memory(tmp_path: Path, require_tool: Tool) -> None:
    srec_cat = require_tool("srec_cat")
    image = Image([Segment(0xFFFF_FF83, bytes(range(40))), Segment(0xFFFF_FFAE, b"\x00")])
    for name, reader, writer in (("t.hex", "-intel", "-intel"), ("t.srec", "-motorola", "-motorola")):
        save(image, tmp_path / name)
        again = tmp_path / ("again-" + name)
        done = run(srec_cat, tmp_path / name, reader, "-o", again, writer)
        assert done.returncode == 0, done.stderr
        assert load(again).image == image


def test_we_read_what_srec_cat_writes(tmp_path: Path, require_tool: Tool) -> None:
    srec_cat = require_tool("srec_cat")
    raw = bytes((i * 7 + 3) & 0xFF for i in range(70_000))
    (tmp_path / "r.bin").write_bytes(raw)
    want = Image.from_bytes(raw, 0x0800_FF00)
    for name, fmt in (("r.hex", "-intel"), ("r.srec", "-motorola"), ("r32.hex", "-intel")):
        extra = ["-output-block-size=32"] if name == "r32.hex" else []
        done = run(
            srec_cat,
            tmp_path / "r.bin",
            "-binary",
            "-offset",
            "0x0800FF00",
            "-o",
            tmp_path / name,
            fmt,
            *extra,
        )
        assert done.returncode == 0, done.stderr
        assert load(tmp_path / name).image == want


def test_readelf_and_objcopy_accept_our_elf(corpus: list[Path], tmp_path: Path, require_tool: Tool) -> None:
    readelf, objcopy = require_tool("readelf"), require_tool("objcopy")
    images = [load(p).image for p in corpus]
    images.append(
        Image([Segment(0x2000_0000, b"\x01\x02\x03"), Segment(0x0800_0000, b"\x00" * 8)], 0x0800_0101)
    )
    for image in images:
        elf = tmp_path / "a.elf"
        save(image, elf)
        shown = run(readelf, "-W", "-h", "-l", "-S", elf)
        assert shown.returncode == 0 and not shown.stderr, shown.stderr
        assert (
            "ARM" in shown.stdout
            and f"Entry point address:               {image.entry or 0:#x}" in shown.stdout
        )
        assert shown.stdout.count("LOAD") == len(image.coalesced())
        done = run(objcopy, "-O", "ihex", elf, tmp_path / "a.hex")
        assert done.returncode == 0, done.stderr
        from_objcopy = load(tmp_path / "a.hex")
        assert from_objcopy.image == image
        assert from_objcopy.entry == image.entry


def test_we_read_objcopy_srec_of_our_elf(tmp_path: Path, require_tool: Tool) -> None:
    objcopy = require_tool("objcopy")
    image = Image([Segment(0x0800_0000, bytes(range(200))), Segment(0x0801_0000, b"tail")], 0x0800_0041)
    save(image, tmp_path / "b.elf")
    assert run(objcopy, "-O", "srec", tmp_path / "b.elf", tmp_path / "b.srec").returncode == 0
    read = load(tmp_path / "b.srec")
    assert read.image == image and read.entry == 0x0800_0041


def test_intelhex_library_agrees_with_our_hex_both_ways(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The intelhex package is an independent reader/writer: its view of our files and ours of its."""
    import random

    from intelhex import IntelHex

    rng = random.Random(7)
    image = Image([Segment(0x0800_0000, rng.randbytes(3000)), Segment(0x0801_0010, rng.randbytes(77))], entry=0x0800_0101)
    ours = tmp_path / "ours.hex"
    save(image, str(ours))
    ih = IntelHex(str(ours))
    assert [(a, b) for a, b in ih.segments()] == [(0x0800_0000, 0x0800_0BB8), (0x0801_0010, 0x0801_005D)]
    assert ih.tobinstr(start=0x0800_0000, size=3000) == image.segments[0].data
    assert ih.start_addr == {"EIP": 0x0800_0101}
    theirs = tmp_path / "theirs.hex"
    ih.write_hex_file(str(theirs))
    assert load(str(theirs)).image == image
