"""``stflash info`` data, format detection and the small promises of load/save."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stflash.errors import ImageError
from stflash.image import Image, Segment, detect_format, dfuse, elf, ihex, load, save, srec
from stflash.image.info import describe, render

SAMPLE = Image([Segment(0x0800_0000, bytes(range(16))), Segment(0x0800_4000, b"\xff\x00")], 0x0800_0009)


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("a.bin", b"DfuSe\x01", "dfu"),
        ("a.hex", b"\x7fELF\x01\x01", "elf"),
        ("a.bin", b":020000040800F2\n", "hex"),
        ("a.txt", b"S00F000068656C6C6F202020202000003C\n", "srec"),
        ("a.dfu", b"\x00\x01", "dfu"),
        ("A.HEX", b"", "hex"),
        ("a.ihex", b"", "hex"),
        ("a.s19", b"", "srec"),
        ("a.s28", b"", "srec"),
        ("a.s37", b"", "srec"),
        ("a.mot", b"", "srec"),
        ("a.srec", b"", "srec"),
        ("a.axf", b"", "elf"),
        ("a.out", b"", "elf"),
        ("a.elf", b"", "elf"),
        ("a.bin", b"\x00\x50\x00\x20", "bin"),
        ("a.bin", b":not hex", "bin"),
    ],
)
def test_detect_format(name: str, head: bytes, expected: str) -> None:
    assert detect_format(name, head) == expected


def test_importing_the_image_model_leaves_the_format_readers_unloaded() -> None:
    """The planner, the session and the links need only Image; pyelftools and the readers wait for load()."""
    code = (
        "import sys, stflash.image, stflash.image.model; "
        "print([m for m in ('elftools', 'stflash.image.io', 'stflash.image.elf') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_detect_format_unknown() -> None:
    with pytest.raises(ImageError, match="unknown file format"):
        detect_format("firmware", b"\x00\x01\x02")


def test_content_wins_over_extension(tmp_path: Path) -> None:
    """An ELF saved as .bin (a common build-script slip) is still read as the ELF it is."""
    (tmp_path / "app.bin").write_bytes(elf.dump(SAMPLE))
    f = load(tmp_path / "app.bin")
    assert f.format == "elf" and f.image == SAMPLE
    assert load(tmp_path / "app.bin", format="bin").image.size == (tmp_path / "app.bin").stat().st_size


@pytest.mark.parametrize(
    "alias", ["dfu", "dfuse", "hex", "ihex", "intel", "srec", "s19", "mot", "elf", "bin", "raw"]
)
def test_format_aliases(tmp_path: Path, alias: str) -> None:
    written = save(SAMPLE, tmp_path / "out.data", format=alias)
    assert load(written[0], format=alias, address=None if alias not in ("bin", "raw") else 0x0800_0000).image


def test_describe_is_json_and_render_shows_hex(tmp_path: Path) -> None:
    save(SAMPLE, tmp_path / "s.hex")
    d = describe(load(tmp_path / "s.hex"))
    assert json.loads(json.dumps(d)) == d
    assert d["format"] == "hex" and d["path"] == str(tmp_path / "s.hex")
    assert d["size"] == 18 and d["entry"] == 0x0800_0009 and d["suffix"] is None and d["targets"] == []
    assert d["segments"] == [
        {"address": 0x0800_0000, "length": 16, "crc32": SAMPLE.segments[0].crc32},
        {"address": 0x0800_4000, "length": 2, "crc32": SAMPLE.segments[1].crc32},
    ]
    text = render(d)
    assert (
        "0x08000000-0x0800000f" in text and "0x08004000-0x08004001" in text and "entry:  0x08000009" in text
    )


def test_describe_dfu_targets_and_suffix(tmp_path: Path) -> None:
    save(SAMPLE, tmp_path / "s.dfu", vendor_id=0x1209, product_id=0x0001)
    d = describe(load(tmp_path / "s.dfu"))
    assert [(t["alt"], t["name"], len(t["segments"])) for t in d["targets"]] == [(0, "ST...", 2)]
    assert d["suffix"]["vid"] == 0x1209 and d["suffix"]["pid"] == 0x0001 and d["suffix"]["crc_ok"]
    assert d["suffix"]["bcd"] == 0 and d["suffix"]["dfu_version"] == 0x011A
    text = render(d)
    assert "target alt 0 'ST...'" in text and "VID 0x1209 PID 0x0001" in text and "(ok)" in text


def test_describe_corpus(corpus: list[Path]) -> None:
    for path in corpus:
        d = describe(load(path))
        assert d["format"] == "dfu" and d["suffix"]["crc_ok"]
        assert sum(s["length"] for s in d["segments"]) == d["size"]
        assert str(path) in render(d)


def test_save_keeps_suffix_ids_of_the_source(tmp_path: Path) -> None:
    save(SAMPLE, tmp_path / "a.dfu", vendor_id=0x1209, product_id=0x7777, device_version=0x0200)
    save(load(tmp_path / "a.dfu"), tmp_path / "b.dfu")
    s = load(tmp_path / "b.dfu").suffix
    assert s is not None and (s.vendor_id, s.product_id, s.device_version) == (0x1209, 0x7777, 0x0200)


def test_bin_suffix_kept_and_added(tmp_path: Path) -> None:
    save(SAMPLE, tmp_path / "plain.bin")
    assert load(tmp_path / "plain.bin").suffix is None
    save(SAMPLE, tmp_path / "tagged.bin", vendor_id=0x0483)
    tagged = load(tmp_path / "tagged.bin")
    assert (
        tagged.suffix is not None
        and tagged.suffix.vendor_id == 0x0483
        and tagged.suffix.dfu_version == 0x0100
    )
    assert tagged.image == SAMPLE.filled()
    save(tagged, tmp_path / "again.bin")
    assert (tmp_path / "again.bin").read_bytes() == (tmp_path / "tagged.bin").read_bytes()
    save(tagged, tmp_path / "bare.bin", dfu_suffix=False)
    assert load(tmp_path / "bare.bin").suffix is None


def test_dfu_writer_keeps_targets(tmp_path: Path) -> None:
    from stflash.image.file import ImageFile, Target

    flash = Target(0, "Internal Flash", Image([Segment(0x0800_0000, b"\x01" * 8)]))
    option = Target(1, "Option Bytes", Image([Segment(0x1FFF_C000, b"\xaa\x55")]))
    merged = Image([*flash.image, *option.image])
    save(ImageFile("x", "dfu", merged, [flash, option]), tmp_path / "t.dfu")
    f = load(tmp_path / "t.dfu")
    assert [(t.alt_setting, t.name, t.image) for t in f.targets] == [
        (0, "Internal Flash", flash.image),
        (1, "Option Bytes", option.image),
    ]


def test_writers_are_deterministic_text() -> None:
    assert ihex.dump(SAMPLE).decode().splitlines() == [
        ":020000040800F2",
        ":10000000000102030405060708090A0B0C0D0E0F78",
        ":02400000FF00BF",
        ":0400000508000009E6",
        ":00000001FF",
    ]
    assert srec.dump(SAMPLE).decode().splitlines()[-1] == "S70508000009E9"
    assert (
        dfuse.dump(SAMPLE)[:11] == b"DfuSe\x01" + (11 + 274 + 8 + 16 + 8 + 2).to_bytes(4, "little") + b"\x01"
    )
