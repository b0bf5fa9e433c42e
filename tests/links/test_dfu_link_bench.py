"""stflash over USB DFU (-c dfu), end to end against the virtual bench's DfuSe ROM."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import pytest
import usb.core

from stflash.image.io import load
from stflash.image.model import Image
from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench

from linkbench import clock, flash_bytes, random_file
from tooling import corpus_files

FLASH = 0x0800_0000
KIB = 1024
PARTS = ["nucleo-f401re", "stm32f407vg", "nucleo-f767zi", "nucleo-h743zi", "stm32g0b1re", "nucleo-l476rg"]


def app_image(size: int, seed: int = 1) -> bytes:
    """Random bytes behind a vector table the ROM accepts as an application."""
    return struct.pack("<II", 0x2000_2000, FLASH + 0x201) + random.Random(seed).randbytes(size - 8)


def dfu_listed(run_cli) -> bool:  # type: ignore[no-untyped-def]
    r = run_cli("--json", "list", "--no-serial")
    assert r.code == 0, r.err
    return any(d["link"] == "dfu" for d in r.json["devices"])


def test_probe_reports_what_the_rom_showed(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench("nucleo-f401re")
    r = run_cli("--json", "probe", "-c", "dfu")
    assert r.code == 0, r.err
    info = r.json
    assert info["link"] == "dfu" and info["chip"] == "STM32F401xE" and info["rdp_level"] == 0
    assert info["flash_size"] == 512 * KIB and len(info["serial"]) == 12
    obs = info["observations"]
    assert obs["product"] == "STM32  BOOTLOADER" and obs["transfer_size"] == 2048
    assert obs["alt_settings"][0] == "0: @Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg"
    assert obs["alt_settings"][1] == "1: @Option Bytes  /0x1FFFC000/01*016 e"
    assert obs["initial_state"] == "dfuERROR/errFIRMWARE (cleared)"  # the F4 ROM starts in dfuERROR
    assert obs["commands"] == ["Get Commands", "Set Address Pointer", "Erase", "Read Unprotect"]
    assert "STM32F411xE" in obs["same_memory_map"]  # the F411 ROM shows the same memory map


@pytest.mark.parametrize("part", PARTS)
def test_write_then_read_back_identical(part: str, bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench(part)
    path, data = random_file(tmp_path, 40 * KIB + 12)  # blocks of wTransferSize and a short tail
    r = run_cli("write", str(path), "-c", "dfu", "--no-reset")
    assert r.code == 0, r.err
    assert "verified (read-back)" in r.out
    assert flash_bytes(directory, FLASH, len(data)) == data
    out = tmp_path / "back.bin"
    r = run_cli("read", str(out), "0x08000000", str(len(data)), "-c", "dfu")
    assert r.code == 0, r.err
    assert out.read_bytes() == data


def test_erase_range_rounds_out_to_sectors(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 64 * KIB)
    assert run_cli("write", str(path), "-c", "dfu", "--no-reset").code == 0
    r = run_cli("erase", "0x08004010", "16", "-c", "dfu")  # inside sector 1 (16 KiB at 0x08004000)
    assert r.code == 0, r.err
    got = flash_bytes(directory, FLASH, 64 * KIB)
    assert got[: 16 * KIB] == data[: 16 * KIB]
    assert got[16 * KIB : 32 * KIB] == b"\xff" * (16 * KIB)
    assert got[32 * KIB :] == data[32 * KIB :]


def test_verify_matches_then_names_the_first_difference(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 8 * KIB)
    assert run_cli("write", str(path), "-c", "dfu", "--no-reset").code == 0
    r = run_cli("verify", str(path), "-c", "dfu")
    assert r.code == 0 and "matches" in r.out
    with Bench.open(directory) as b:
        b.chip.rom_program(FLASH + 0x1000, bytes(8))  # bits only go 1 -> 0 without an erase
    r = run_cli("verify", str(path), "-c", "dfu")
    assert r.code == 10
    first = next(i for i in range(0x1000, 0x1008) if data[i] != 0)
    assert f"verify failed at {FLASH + first:#010x}" in r.err


@pytest.mark.parametrize("name, part", [("mpy-f407-blavery.dfu", "stm32f407vg"),
                                        ("dcfurs-badge.dfu", "nucleo-f767zi")])
def test_corpus_dfu_files_land_in_flash(name: str, part: str, bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench(part)
    (file,) = corpus_files(name)
    image = load(file).image
    r = run_cli("write", str(file), "-c", "dfu", "--no-reset")
    assert r.code == 0, r.err
    for i, seg in enumerate(image.segments):
        assert flash_bytes(directory, seg.address, len(seg)) == seg.data
        out = tmp_path / f"seg{i}.bin"
        r = run_cli("read", str(out), hex(seg.address), str(len(seg)), "-c", "dfu")
        assert r.code == 0, r.err
        assert out.read_bytes() == seg.data


def test_reset_leaves_dfu_and_starts_the_application(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path = tmp_path / "app.bin"
    path.write_bytes(app_image(4 * KIB))
    assert dfu_listed(run_cli)
    r = run_cli("write", str(path), "-c", "dfu")  # --reset by default: DfuSe leave
    assert r.code == 0, r.err
    assert not dfu_listed(run_cli), "the bootloader left the bus"
    with Bench.open(directory) as b:
        assert b.chip.boot_source == "flash"


def test_reset_without_an_application_comes_back_as_the_bootloader(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench("nucleo-f401re")  # empty flash: nothing valid to jump to; BOOT0 is still high
    r = run_cli("reset", "-c", "dfu")
    assert r.code == 0, r.err
    assert dfu_listed(run_cli)
    assert run_cli("reset", "--halt", "-c", "dfu").code == 13


def test_read_protection_refuses_reads_and_regression_recovers(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re", "rdp1")
    r = run_cli("--json", "probe", "-c", "dfu")
    assert r.code == 0, r.err
    assert r.json["rdp_level"] == 1 and "errVENDOR" in r.json["observations"]["read_probe"]
    r = run_cli("read", str(tmp_path / "x.bin"), "0x08000000", "256", "-c", "dfu")
    assert r.code == 9 and "RDP level 1" in r.err and "RDP=0xAA" in r.err
    path, _ = random_file(tmp_path, 1024)
    assert run_cli("write", str(path), "-c", "dfu", "--no-reset").code == 9
    assert run_cli("ob", "set", "RDP=0xAA", "-c", "dfu").code == 12  # refused without --yes
    r = run_cli("ob", "set", "RDP=0xAA", "--yes", "-c", "dfu")
    assert r.code == 0, r.err
    with Bench.open(directory) as b:
        assert b.chip.rdp_level == 0 and b.chip.flash_empty()
    r = run_cli("--json", "probe", "-c", "dfu")
    assert r.code == 0 and r.json["rdp_level"] == 0


def test_option_bytes_show_and_set_on_f401(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    r = run_cli("--json", "ob", "show", "-c", "dfu")
    assert r.code == 0, r.err
    assert r.json["options"]["RDP"] == 0xAA and r.json["options"]["nRST_STOP"] == 1
    assert r.json["options"]["nWRP"] == 0xFF
    r = run_cli("ob", "set", "nRST_STOP=0", "nWRP=0xFE", "-c", "dfu")
    assert r.code == 0, r.err
    with Bench.open(directory) as b:
        assert b.chip.option("nRST_STOP") == 0 and b.chip.option("nWRP") == 0xFE
        assert b.chip.option("RDP") == 0xAA
    r = run_cli("--json", "ob", "show", "-c", "dfu")
    assert r.json["options"]["nRST_STOP"] == 0 and r.json["options"]["nWRP"] == 0xFE


def test_option_bytes_of_an_h7_through_its_register_window(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-h743zi")
    r = run_cli("--json", "ob", "show", "-c", "dfu")
    assert r.code == 0, r.err
    assert r.json["options"]["RDP"] == 0xAA and r.json["options"]["nRST_STOP_D1"] == 1
    r = run_cli("ob", "set", "nRST_STOP_D1=0", "-c", "dfu")
    assert r.code == 0, r.err
    with Bench.open(directory) as b:
        assert b.chip.option("nRST_STOP_D1") == 0


def test_no_bootloader_on_the_bus_is_exit_3_with_how_to_get_there(tmp_path: Path, monkeypatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path / "b"
    Bench.create(directory, "nucleo-f401re")  # BOOT0 low
    with Bench.open(directory) as b:
        b.chip.rom_program(FLASH, app_image(1024))
        b.power_cycle()  # the application runs
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    t0 = clock(directory)
    r = run_cli("probe", "-c", "dfu", "--wait", "0.5")
    assert r.code == 3
    assert "no DFU bootloader" in r.err and "BOOT0" in r.err and "own USB port" in r.err
    # the bench's ST-LINK is on the bus: the user is told that cable is the debugger's
    assert "ST-LINK" in r.err and "debugger's USB port" in r.err
    assert clock(directory) - t0 >= 500_000_000, "--wait polls the bus on the bench's clock"


def test_what_pyfu_usb_downloads_stflash_reads_back(bench, run_cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pyfu_usb = pytest.importorskip("pyfu_usb")
    directory = bench("stm32f407vg")
    data = app_image(48 * KIB, seed=7)
    (tmp_path / "fw.bin").write_bytes(data)
    backend = pyusb_backend(directory)
    real = usb.core.find
    with monkeypatch.context() as m:  # pyfu-usb calls usb.core.find without a backend
        m.setattr(usb.core, "find", lambda *a, **k: real(*a, **{**k, "backend": backend}))
        pyfu_usb.download(str(tmp_path / "fw.bin"), address=FLASH)
    with Bench.open(directory) as b:
        assert b.chip.boot_source == "flash"  # pyfu-usb left DFU: start the bootloader again
        b.power_cycle()
    out = tmp_path / "back.bin"
    r = run_cli("read", str(out), "0x08000000", str(len(data)), "-c", "dfu")
    assert r.code == 0, r.err
    assert out.read_bytes() == data


def test_a_target_for_another_alternate_setting(bench) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    from stflash.session import Session

    with Session.open("dfu") as session:
        link = session.link
        link.write_target(2, Image.from_bytes(b"serial 0042\x00\x00\x00\x00\x00", 0x1FFF_7800))  # type: ignore[attr-defined]
        assert link.read(0x1FFF_7800, 16) == b"serial 0042" + bytes(5)
    assert flash_bytes(directory, 0x1FFF_7800, 11) == b"serial 0042"


def test_write_time_of_512_kib_on_an_f407(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The virtual time of a 512 KiB write (erase, write, read-back verify, leave), asking for the
    status at once (the default, pyfu-usb's way: 9.94 s for the same size, without a verify), and
    waiting out each bwPollTimeout as DFU 1.1 words it."""
    directory = bench("stm32f407vg")
    path = tmp_path / "fw.bin"
    path.write_bytes(app_image(512 * KIB))
    t0 = clock(directory)
    from stflash.session import Session

    with Session.open("dfu", dfu_poll="honour") as session:
        session.write(Image.from_bytes(path.read_bytes(), FLASH), force=True)
        session.reset()
    honour = (clock(directory) - t0) / 1e9
    blocks = 512 * KIB // 2048
    erase = 4 * 0.25 + 0.55 + 3 * 1.0  # sectors 0-7 at x32 (docs/timing-model.md)
    # the chip is blank: each sector reads back erased, which on an F4 needs no erase before a write
    assert blocks * 0.104 <= honour <= 1.5 * blocks * 0.104
    with Bench.open(directory) as b:
        b.power_cycle()
    t0 = clock(directory)
    r = run_cli("write", str(path), "-c", "dfu", "--force")
    assert r.code == 0, r.err
    eager = (clock(directory) - t0) / 1e9
    assert flash_bytes(directory, FLASH, 512 * KIB) == path.read_bytes()
    assert erase < eager < 9.94
    with Bench.open(directory) as b:
        b.power_cycle()
    t0 = clock(directory)
    r = run_cli("--json", "write", str(path), "-c", "dfu")  # the same image again: read, compare, skip
    assert r.code == 0, r.err
    again = (clock(directory) - t0) / 1e9
    assert len(json.loads(r.out)["result"]["skipped"]) == 8 and again < 0.25 * eager
    print(f"\nstflash write, 512 KiB to an F407 over DFU: {honour:.2f} s of virtual time waiting bwPollTimeout, "
          f"{eager:.2f} s asking at once (pyfu-usb: 9.94 s)")


def test_a_dfuse_file_with_an_otp_target_writes_each_alt(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from stflash.image import dfuse
    from stflash.image.file import ImageFile, Target

    directory = bench("nucleo-f401re")
    app = app_image(4 * KIB)
    flash_part = Image.from_bytes(app, FLASH)
    otp = Image.from_bytes(b"board rev C\x00\x00\x00\x00\x00", 0x1FFF_7800)
    merged = Image()
    merged.merge(flash_part)
    merged.merge(otp)
    f = ImageFile("fw.dfu", "dfu", merged, [Target(0, "Internal Flash", flash_part), Target(2, "OTP Memory", otp)])
    path = tmp_path / "fw.dfu"
    path.write_bytes(dfuse.dump(f))
    r = run_cli("write", str(path), "-c", "dfu", "--no-reset")
    assert r.code == 0, r.err
    assert flash_bytes(directory, FLASH, len(app)) == app
    assert flash_bytes(directory, 0x1FFF_7800, 11) == b"board rev C"
    # the same file over a link without alternate settings is refused before anything is erased
    with Bench.open(directory) as b:
        b.chip.rom_mass_erase()
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset")
    assert r.code == 13 and "alternate setting 2" in r.err
    assert flash_bytes(directory, FLASH, 16) == b"\xff" * 16
