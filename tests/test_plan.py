"""Flash planning: what gets erased, skipped, written and verified, decided before any change."""

from __future__ import annotations

import zlib

import pytest

from stflash.chips.lookup import find_chip
from stflash.errors import ImageDoesNotFitError, UsageError, VerifyError
from stflash.flash.plan import plan_write
from stflash.image.model import Image, Segment
from stflash.session import Session
from stflash.target import TargetInfo

from fake_link import FakeLink

F401 = find_chip("stm32f401re")
KIB = 1024


def test_only_touched_sectors_are_erased() -> None:
    # 20 KiB from the start: sectors 0 (16K) and 1 (16K); nothing else
    image = Image.from_bytes(b"\x11" * (20 * KIB), 0x0800_0000)
    plan = plan_write(image, F401)
    assert [s.address for s in plan.erase] == [0x0800_0000, 0x0800_4000]
    assert plan.write_bytes == 20 * KIB
    assert plan.lost_bytes == 12 * KIB  # rest of sector 1 is erased although not in the image


def test_writes_are_padded_to_the_write_unit_with_the_erased_value() -> None:
    chip = find_chip("stm32h743zi")  # 32-byte flash words
    image = Image([Segment(0x0810_0005, b"\xab\xcd\xef")])
    plan = plan_write(image, chip)
    assert len(plan.writes) == 1
    w = plan.writes[0]
    assert w.address == 0x0810_0000 and len(w.data) == 32
    assert w.data == b"\xff" * 5 + b"\xab\xcd\xef" + b"\xff" * 24
    assert [s.address for s in plan.erase] == [0x0810_0000]  # bank 2, sector 0
    assert plan.erase[0].bank == 1 and plan.erase[0].number == 0


def test_l0_pads_with_zero_because_erased_flash_reads_zero() -> None:
    chip = find_chip("stm32l053r8")
    plan = plan_write(Image([Segment(0x0800_0001, b"\x01")]), chip)
    assert plan.writes[0].data == b"\x00\x01\x00\x00"


def test_writes_never_span_two_sectors() -> None:
    image = Image.from_bytes(bytes(range(256)) * 256, 0x0800_0000)  # 64 KiB over 4 sectors
    plan = plan_write(image, F401)
    sectors = {s.address: s for s in F401.sectors()}
    for w in plan.writes:
        owner = F401.sector_at(w.address)
        assert owner is not None and w.address + len(w.data) <= owner.end
    assert len(sectors) == 8


@pytest.mark.parametrize(
    "address, where",
    [
        (0x1FFF_0000, "system bootloader"),
        (0x1FFF_7800, "one-time-programmable"),
        (0x2000_0000, "RAM"),
        (0x0808_0000, "outside"),
    ],
)
def test_image_outside_flash_is_refused_naming_the_address(address: int, where: str) -> None:
    image = Image([Segment(0x0800_0000, b"\0" * 16, "app.hex"), Segment(address, b"\0" * 4, "app.hex")])
    with pytest.raises(ImageDoesNotFitError) as exc:
        plan_write(image, F401)
    assert f"{address:#010x}" in exc.value.message
    assert where.lower() in exc.value.message.lower()


def test_h7_xg_hole_between_banks_is_refused() -> None:
    chip = find_chip("stm32h743zg")
    with pytest.raises(ImageDoesNotFitError) as exc:
        plan_write(Image([Segment(0x0808_0000, b"\0" * 32)]), chip)
    assert "gap between flash banks" in exc.value.message


def test_chip_erase_plans_everything_and_counts_lost_bytes() -> None:
    plan = plan_write(Image.from_bytes(b"\x22" * 100, 0x0800_0000), F401, erase="chip")
    assert plan.erase_mode == "chip" and plan.erase == []
    assert plan.lost_bytes == F401.flash_size - 100


def test_bad_erase_mode() -> None:
    with pytest.raises(UsageError):
        plan_write(Image.from_bytes(b"\0", 0x0800_0000), F401, erase="some")


def test_sectors_holding_the_image_are_skipped_by_crc() -> None:
    image = Image.from_bytes(b"\x33" * (32 * KIB), 0x0800_0000)  # sectors 0 and 1, fully
    same = zlib.crc32(b"\x33" * (16 * KIB)) & 0xFFFFFFFF
    plan = plan_write(image, F401, current_crc={0: same, 1: 0x12345678})
    assert [s.index for s in plan.skipped] == [0]
    assert [s.index for s in plan.erase] == [1]
    assert {w.address for w in plan.writes} == {0x0800_4000}


def test_additive_sum_collision_is_not_skipped() -> None:
    """Swapped bytes have the same additive sum; a real comparison must still rewrite."""
    image = Image.from_bytes(b"\x01\x02" * (8 * KIB), 0x0800_0000)
    current = {0: b"\x02\x01" * (8 * KIB)}
    plan = plan_write(image, F401, current=current)
    assert plan.skipped == []
    assert plan_write(image, F401, current={0: b"\x01\x02" * (8 * KIB)}).skipped[0].index == 0


def test_byte_comparison_ignores_bytes_outside_the_image() -> None:
    image = Image.from_bytes(b"\x44" * 100, 0x0800_0000)
    have = b"\x44" * 100 + b"\x99" * (16 * KIB - 100)  # other data after the image stays
    assert len(plan_write(image, F401, current={0: have}).skipped) == 1


def test_dry_run_prints_plan_and_json(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = tmp_path / "app.bin"
    app.write_bytes(b"\x01" * (70 * KIB))
    r = run_cli("write", str(app), "--dry-run", "--chip", "nucleo-f401re")
    assert r.code == 0, r.err
    assert "sector 4" in r.out and "erase+write" in r.out
    r = run_cli("--json", "write", str(app), "--dry-run", "--chip", "nucleo-f401re")
    plan = r.json["plan"]  # type: ignore[index]
    assert [s["address"] for s in plan["erase_sectors"]] == [0x08000000, 0x08004000, 0x08008000, 0x0800C000, 0x08010000]
    assert plan["write_bytes"] == 70 * KIB


def test_session_write_then_rewrite_skips_everything() -> None:
    link = FakeLink(F401, crc=True)
    s = Session(link, TargetInfo("fake", F401))
    image = Image.from_bytes(bytes(range(256)) * 256, 0x0800_0000)
    first = s.write(image)
    assert first.verified == "crc"
    assert bytes(link.flash[: 64 * KIB]) == image.read(0x0800_0000, 64 * KIB)
    link.erased.clear()
    second = s.write(image)
    assert second.written == [] and link.erased == []
    assert len(second.plan.skipped) == 4
    forced = s.write(image, force=True)
    assert len(forced.written) == 4


def test_session_verify_read_back_reports_first_bad_address() -> None:
    link = FakeLink(F401)
    s = Session(link, TargetInfo("fake", F401))
    image = Image.from_bytes(b"\x10" * 64, 0x0800_0100)
    assert s.write(image).verified == "read-back"
    link.flash[0x120] = 0
    with pytest.raises(VerifyError) as exc:
        s.verify(image)
    assert exc.value.address == 0x0800_0120


def test_verify_compares_only_the_image_bytes_not_the_flash_word_padding() -> None:
    """A 3-byte image inside a 32-byte H7 flash word: the other 29 bytes may hold anything."""
    chip = find_chip("stm32h743zi")
    link = FakeLink(chip)
    link.flash[0x100000 : 0x100000 + 32] = bytes(range(32))  # bank 2 word written by someone else
    s = Session(link, TargetInfo("fake", chip))
    assert s.verify(Image([Segment(0x0810_0005, bytes([5, 6, 7]))])) == "read-back"
    with pytest.raises(VerifyError) as exc:
        s.verify(Image([Segment(0x0810_0005, bytes([5, 6, 9]))]))
    assert exc.value.address == 0x0810_0007


def test_verify_uses_crc_for_sectors_the_image_fills() -> None:
    link = FakeLink(F401, crc=True)
    s = Session(link, TargetInfo("fake", F401))
    image = Image.from_bytes(b"\x77" * (16 * KIB + 10), 0x0800_0000)  # sector 0 full, 10 bytes of sector 1
    s.write(image)
    assert s.verify(image) == "crc+read-back"
    assert s.verify(image.crop(0x0800_0000, 0x0800_4000)) == "crc"
    link.flash[5] = 0
    with pytest.raises(VerifyError) as exc:
        s.verify(image)
    assert exc.value.address == 0x0800_0000
