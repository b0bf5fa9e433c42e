"""stflash through the ST-LINK, end to end on the virtual bench: each controller design writes,
reads, verifies and erases a random image spanning several sectors, the loader and the CRCs do
the work, and the field scenarios give the diagnosis a user needs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from stflash.chips.boards import board_part
from stflash.chips.lookup import find_chip
from stflash.sim.bench import Bench

from linkbench import clock, flash_bytes

BOARDS = [  # board, probe kind: one of each controller design
    ("bluepill", "V2"),  # F0/F1/F3 (FPEC, half words)
    ("nucleo-f072rb", "V2-1"),
    ("nucleo-f401re", "V2-1"),  # F2/F4
    ("nucleo-f767zi", "V3"),  # F7
    ("nucleo-l053r8", "V2-1"),  # L0/L1 (PECR, half pages, erased = 0)
    ("nucleo-l476rg", "V2-1"),  # L4
    ("nucleo-g071rb", "V2-1"),  # G0
    ("nucleo-g474re", "V3"),  # G4
    ("nucleo-wb55", "V2-1"),  # WB
    ("nucleo-h743zi", "V3"),  # H7
]


@pytest.fixture
def board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    def make(name: str, probe: str = "V2-1", *scenarios: str) -> Path:
        directory = tmp_path / "bench"
        Bench.create(directory, name, probe=probe, scenarios=scenarios, force=True)
        monkeypatch.setenv("STFLASH_SIM", str(directory))
        return directory

    return make


def _advance(directory: Path, ns: int) -> None:
    with Bench.open(directory) as bench:
        bench.clock.advance(ns)


def _image(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "image.bin"
    path.write_bytes(data)
    return path, data


def _span(part: str) -> tuple[int, int]:
    """An image from the middle of the first sector into the fourth (several sectors, unaligned
    ends), capped so the large F4/F7/H7 sectors stay quick."""
    chip = find_chip(part)
    sectors = chip.sectors()
    start = sectors[0].address + sectors[0].size // 2 + 6
    end = min(sectors[3].address + 100, start + 40 * 1024 + 3)
    return start, end - start


@pytest.mark.parametrize("name, probe", BOARDS)
def test_write_read_verify_erase(name: str, probe: str, board, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = board(name, probe)
    part = board_part(name) or name
    start, size = _span(part)
    path, data = _image(tmp_path, size)
    r = run_cli("--json", "write", str(path), "--address", hex(start), "-c", "stlink", "--no-reset")
    assert r.code == 0, r.err
    assert r.json["result"]["verified"] == "crc"  # the loader computed the CRCs on the target
    assert flash_bytes(directory, start, size) == data
    back = tmp_path / "back.bin"
    assert run_cli("read", str(back), hex(start), str(size), "-c", "stlink").code == 0
    assert back.read_bytes() == data
    r = run_cli("verify", str(path), "--address", hex(start), "-c", "stlink")
    assert r.code == 0, r.err
    chip = find_chip(part)
    erased = bytes([chip.erased_value]) * 64
    r = run_cli("erase", hex(start), "16", "-c", "stlink")
    assert r.code == 0, r.err
    first = chip.sector_at(start)
    assert first is not None
    head = min(64, first.end - start)
    assert flash_bytes(directory, start, head) == erased[:head]  # the sector holding the range is erased
    if first.end < start + size:  # the next one keeps its bytes
        assert flash_bytes(directory, first.end, 64) == data[first.end - start : first.end - start + 64]


def test_rewrite_skips_by_crc_and_changes_one_sector(board, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = board("nucleo-f401re")
    path, data = _image(tmp_path, 80 * 1024)  # sectors 0-4 (16, 16, 16, 16, 64 KiB)
    assert run_cli("write", str(path), "-c", "stlink", "--address", "0x08000000").code == 0
    t0 = clock(directory)
    r = run_cli("--json", "write", str(path), "-c", "stlink", "--address", "0x08000000")
    assert r.code == 0, r.err
    assert len(r.json["result"]["skipped"]) == 5 and r.json["result"]["bytes_written"] == 0
    unchanged = (clock(directory) - t0) / 1e9
    changed = bytearray(data)
    changed[0x8000 + 5] ^= 0x5A  # sector 2
    path.write_bytes(changed)
    r = run_cli("--json", "write", str(path), "-c", "stlink", "--address", "0x08000000")
    assert r.code == 0, r.err
    assert [s["address"] for s in r.json["result"]["erased"]] == [0x0800_8000]
    assert flash_bytes(directory, 0x0800_0000, len(data)) == bytes(changed)
    assert unchanged < 0.5  # a CRC of 80 KiB on the target, not a read-back over SWD


def test_h743_both_banks(board, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = board("nucleo-h743zi", "V3")
    path, data = _image(tmp_path, 64 * 1024)
    for address in (0x080E_0000 + 128 * 1024 - 32 * 1024, 0x0810_0000):  # the end of bank 1, then bank 2
        r = run_cli("write", str(path), "--address", hex(address), "-c", "stlink", "--no-reset")
        assert r.code == 0, r.err
        assert flash_bytes(directory, address, len(data)) == data


def test_one_range_across_the_h7_banks_is_split_between_them(board, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Each H7 bank has its own registers, so a loader run programs one bank: a range that
    crosses into bank 2 is cut there and each part goes through its own bank's set-up."""
    from test_stlink_transport import bench_sleep

    from stflash.sim import pyusb_backend
    from stflash.stlink_target import StlinkTarget

    directory = board("nucleo-h743zi", "V3")
    data = os.urandom(16 * 1024)
    start = 0x0810_0000 - 8 * 1024
    target = StlinkTarget.open(pyusb_backend(directory), None, sleep=bench_sleep(directory))
    try:
        chip = target.identify().chip
        assert chip is not None
        target.erase_sectors([s for s in chip.sectors() if s.address <= start + len(data) and s.end > start])
        target.program(start, data)
        assert target.used["program"] == "loader"
    finally:
        target.close()
    assert flash_bytes(directory, start, len(data)) == data


def test_h755_cortex_m4_writes_through_the_register_path(board, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Through AP3 the H755's Cortex-M4 cannot fetch from the DTCM, the chip's first RAM: the
    loader never starts there, so the write takes the register path and verifies by read-back."""
    directory = board("nucleo-h755zi-q", "V3")
    path, data = _image(tmp_path, 8 * 1024)
    r = run_cli("--json", "write", str(path), "--address", "0x08020000", "-c", "stlink", "--ap", "3", "--no-reset")
    assert r.code == 0, r.err
    assert r.json["result"]["verified"] == "read-back" and r.json["result"]["bytes_written"] == len(data)
    assert flash_bytes(directory, 0x0802_0000, len(data)) == data


def test_probe_identifies_like_st_info(board, run_cli) -> None:  # type: ignore[no-untyped-def]
    board("nucleo-f429zi")
    r = run_cli("--json", "probe", "-c", "stlink")
    assert r.code == 0, r.err
    info = r.json
    assert info["dev_id"] == 0x419 and info["flash_size"] == 2 * 1024 * 1024 and info["rdp_level"] == 0
    assert info["chip"].startswith("STM32F42") and info["sram_size"] > 0
    assert info["observations"]["target_voltage"] == pytest.approx(3.3, abs=0.05)


@pytest.mark.parametrize("name, probe, scenario", [
    ("nucleo-f401re", "V2-1", "swd-disabled"),
    ("nucleo-h743zi", "V3", "low-power"),
])
def test_firmware_that_blocks_debug_needs_connect_under_reset(name: str, probe: str, scenario: str, board, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = board(name, probe, scenario)
    _advance(directory, 20_000_000)  # the firmware has taken the pins or entered Stop
    r = run_cli("probe", "-c", "stlink")
    assert r.code == 6, r.err
    assert "--connect-under-reset" in r.err
    r = run_cli("--json", "probe", "-c", "stlink", "--connect-under-reset")
    assert r.code == 0, r.err
    assert r.json["rdp_level"] == 0


def test_h7_supply_lockup_needs_a_power_up_with_nrst_held(board, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = board("nucleo-h743zi", "V3", "h7-smps-lockup")
    _advance(directory, 20_000_000)  # PWR_CR3 written 2 ms after power-on
    for flags in ((), ("--connect-under-reset",)):  # latched: under reset is no better
        r = run_cli("probe", "-c", "stlink", *flags)
        assert r.code == 6 and "no answer from the target's debug port" in r.err, r.err
    r = run_cli("sim", "set", str(directory), "power=0", "nrst=0", "power=1")
    assert r.code == 0, r.err
    r = run_cli("--json", "probe", "-c", "stlink", "--connect-under-reset")
    assert r.code == 0, r.err
    assert r.json["dev_id"] == 0x450 and r.json["rdp_level"] == 0


def test_rdp1_reports_protection_and_refuses_reads(board, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    board("stm32f407vg", "V2", "rdp1")
    r = run_cli("--json", "probe", "-c", "stlink")
    assert r.code == 0, r.err
    assert r.json["rdp_level"] == 1
    r = run_cli("read", str(tmp_path / "x.bin"), "0x08000000", "256", "-c", "stlink")
    assert r.code == 9 and "read-out protection" in r.err


def test_option_bytes_by_name_through_registers(board, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = board("nucleo-f401re")
    r = run_cli("ob", "set", "BOR_LEV=1", "-c", "stlink", "--yes")
    assert r.code == 0, r.err
    with Bench.open(directory) as b:
        assert b.chip.option("BOR_LEV") == 1
    r = run_cli("--json", "ob", "show", "-c", "stlink")
    assert r.code == 0, r.err
    assert "BOR_LEV" in r.out


def test_m7_boot_disabled_reached_through_ap3(board, run_cli) -> None:  # type: ignore[no-untyped-def]
    board("nucleo-h755zi-q", "V3", "m7-boot-disabled")
    r = run_cli("probe", "-c", "stlink")
    assert r.code != 0 and "--ap 3" in r.err
    r = run_cli("--json", "probe", "-c", "stlink", "--ap", "3")
    assert r.code == 0, r.err
    assert r.json["dev_id"] == 0x450


def test_rdp_regression_needs_consent_and_erases(board, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = board("stm32f407vg", "V2", "rdp1")
    r = run_cli("ob", "set", "RDP=0xAA", "-c", "stlink")
    assert r.code == 12 and "mass-erases" in r.err  # nothing done without --yes
    with Bench.open(directory) as b:
        assert b.chip.rdp_level == 1
    assert run_cli("ob", "set", "RDP=0xCC", "-c", "stlink", "--yes").code == 12  # level 2: refused
    r = run_cli("ob", "set", "RDP=0xAA", "-c", "stlink", "--yes")
    assert r.code == 0, r.err
    with Bench.open(directory) as b:
        assert b.chip.rdp_level == 0
    assert flash_bytes(directory, 0x0800_0000, 256) == b"\xff" * 256


def test_freq_suffixes_are_decimal(board, run_cli) -> None:  # type: ignore[no-untyped-def]
    """--freq 1800K asks for 1.8 MHz (not 1.84); a V2-1 runs the fastest of its table not above it."""
    board("nucleo-f401re")
    r = run_cli("--json", "probe", "-c", "stlink", "--freq", "1800K")
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["frequency_requested_hz"] == 1_800_000 and obs["frequency_hz"] == 1_800_000
    r = run_cli("--json", "probe", "-c", "stlink", "--freq", "4M")
    assert r.json["observations"]["frequency_requested_hz"] == 4_000_000
