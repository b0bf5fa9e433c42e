"""stflash over the UART bootloader, end to end against the virtual bench (-c uart:sim)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stflash.links.uart.an3155 import An3155
from stflash.sim.bench import Bench

from linkbench import flash_bytes, random_file

ID_ADDRESS = 0x1FFF_6FFE  # the G071 bootloader ID byte (AN2606)
PARTS = ["stm32f103rb", "nucleo-f401re", "nucleo-f767zi", "nucleo-g071rb", "nucleo-l476rg", "nucleo-h743zi"]


@pytest.mark.parametrize("part", PARTS)
def test_write_then_read_back_identical(part: str, bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench(part)
    path, data = random_file(tmp_path, 20 * 1024 + 12)
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset")
    assert r.code == 0, r.err
    assert "verified" in r.out
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data
    out = tmp_path / "back.bin"
    r = run_cli("read", str(out), "0x08000000", str(len(data)), "-c", "uart:sim")
    assert r.code == 0, r.err
    assert out.read_bytes() == data


def test_probe_reports_the_bootloader(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench("stm32f103rb")
    r = run_cli("--json", "probe", "-c", "uart:sim")
    assert r.code == 0, r.err
    info = r.json
    assert info["chip"].startswith("STM32F103")
    obs = info["observations"]
    assert obs["bootloader_version"] == "2.2"
    assert "Erase" in obs["commands"] and "Extended Erase" not in obs["commands"]
    assert info["rdp_level"] == 0


def test_probe_reads_the_bootloader_id_a_write_does_not(bench, run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The ID byte (AN2606) is one more Read Memory: probe shows it, a write does not pay for it."""
    bench("nucleo-g071rb")
    read = An3155.read_memory
    asked: list[int] = []

    def recording(self: An3155, address: int, length: int) -> bytes:
        asked.append(address)
        return read(self, address, length)

    monkeypatch.setattr(An3155, "read_memory", recording)
    r = run_cli("--json", "probe", "-c", "uart:sim")
    assert r.code == 0, r.err
    assert r.json["observations"]["bootloader_id"] == "0xb4"
    assert ID_ADDRESS in asked
    asked.clear()
    path, _ = random_file(tmp_path, 1024)
    assert run_cli("write", str(path), "-c", "uart:sim", "--no-reset", "--no-verify").code == 0
    assert asked and ID_ADDRESS not in asked


def test_no_bootloader_answering_is_exit_6_with_what_to_check(tmp_path: Path, monkeypatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    Bench.create(tmp_path / "b", "nucleo-f401re")  # BOOT0 low: the (empty) application runs
    with Bench.open(tmp_path / "b") as b:
        b.chip.rom_program(0x0800_0000, bytes.fromhex("0010002009000008"))
        b.power_cycle()
    monkeypatch.setenv("STFLASH_SIM", str(tmp_path / "b"))
    r = run_cli("probe", "-c", "uart:sim")
    assert r.code == 6
    assert "0x7F handshake" in r.err and "BOOT0" in r.err and "TX" in r.err


def test_erase_range_rounds_out_to_sectors(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-g071rb")
    path, data = random_file(tmp_path, 8192)
    assert run_cli("write", str(path), "-c", "uart:sim", "--no-reset").code == 0
    r = run_cli("erase", "0x08000800", "16", "-c", "uart:sim")
    assert r.code == 0, r.err
    got = flash_bytes(directory, 0x0800_0000, 8192)
    assert got[:2048] == data[:2048] and got[2048:4096] == b"\xff" * 2048 and got[4096:] == data[4096:]


@pytest.mark.parametrize("fault", ["uart-drop-after=300", "uart-corrupt-after=300", "uart-nack-after=5", "uart-nack-after=40"])
def test_a_lost_corrupted_or_refused_frame_is_recovered(fault: str, bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 4096)
    name, value = fault.split("=")
    with Bench.open(directory) as b:
        b.set(name, value)
    # the ROM's NACKs: its own frames (the stub's frames have their own test)
    more = ("--no-stub",) if name == "uart-nack-after" else ()
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset", *more)
    assert r.code == 0, r.err
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data
    with Bench.open(directory) as b:
        assert name not in b.board.faults  # it did fire


def test_power_lost_mid_write_reports_the_written_ranges(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, _ = random_file(tmp_path, 4096)
    with Bench.open(directory) as b:
        b.set("power-loss-during", "program@200")  # F4 ROM: 4 bytes a step, so in the 4th frame
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset", "--no-stub")
    assert r.code == 16, r.err
    assert "half-written" in r.err and "0x08000000-0x080002ff written" in r.err


def test_read_protection_blocks_reads_and_regression_erases(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re", "rdp1")
    r = run_cli("--json", "probe", "-c", "uart:sim")
    assert r.code == 0 and r.json["rdp_level"] == 1
    r = run_cli("read", str(tmp_path / "x.bin"), "0x08000000", "256", "-c", "uart:sim")
    assert r.code == 9 and "RDP" in r.err
    r = run_cli("ob", "set", "RDP=0xAA", "-c", "uart:sim")
    assert r.code == 12  # refused without --yes: it mass-erases
    r = run_cli("ob", "set", "RDP=0xAA", "--yes", "-c", "uart:sim")
    assert r.code == 0, r.err
    with Bench.open(directory) as b:
        assert b.chip.rdp_level == 0 and b.chip.flash_empty()


def test_option_bytes_by_name(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    r = run_cli("--json", "ob", "show", "-c", "uart:sim")
    assert r.code == 0, r.err
    assert r.json["options"]["RDP"] == 0xAA and r.json["options"]["nRST_STOP"] == 1
    r = run_cli("ob", "set", "nRST_STOP=0", "-c", "uart:sim")
    assert r.code == 0, r.err
    with Bench.open(directory) as b:
        assert b.chip.option("nRST_STOP") == 0


def test_go_starts_the_application(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, _ = random_file(tmp_path, 1024)
    r = run_cli("write", str(path), "-c", "uart:sim")  # --reset by default: Go to 0x08000000
    assert r.code == 0, r.err
    with Bench.open(directory) as b:
        assert b.chip.boot_source == "flash"


def test_entry_sequence_drives_boot0_and_nrst(tmp_path: Path, monkeypatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path / "b"
    Bench.create(directory, "nucleo-f401re", uart_wiring="dtr=!nrst,rts=!boot0")
    with Bench.open(directory) as b:
        b.chip.rom_program(0x0800_0000, bytes.fromhex("0010002009000008"))
        b.power_cycle()
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    assert run_cli("probe", "-c", "uart:sim").code == 6  # the application runs: nobody answers
    r = run_cli("probe", "-c", "uart:sim", "--wiring", "dtr-reset-rts-boot0")
    assert r.code == 0, r.err


def test_rewrite_reads_back_and_writes_only_the_changed_sector(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No checksum command in the ROM: the session reads back and compares bytes, sector by sector,
    after a short probe that settles blank or changed sectors without reading them whole."""
    directory = bench("nucleo-g071rb")  # 2 KiB pages
    path, data = random_file(tmp_path, 5 * 2048)
    assert run_cli("write", str(path), "-c", "uart:sim", "--no-reset").code == 0
    changed = bytearray(data)
    changed[3 * 2048 + 100] ^= 0xFF
    path.write_bytes(changed)
    r = run_cli("--json", "write", str(path), "-c", "uart:sim", "--no-reset")
    assert r.code == 0, r.err
    result = r.json["result"]
    assert [s["address"] for s in result["erased"]] == [0x0800_1800]
    assert len(result["skipped"]) == 4 and result["bytes_written"] == 2048
    assert flash_bytes(directory, 0x0800_0000, len(data)) == bytes(changed)


def test_f4_rom_programs_32_bits_at_once_after_the_voltage_range_byte(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The F2/F4/F7 ROM starts in range 0 (byte programming); stflash selects range 3 first (the
    virtual byte at 0xFFFF0000), unless --vrange says the board runs below 2.7 V."""
    path, data = random_file(tmp_path, 32 * 1024)
    took = {}
    for vrange in ("3", "0"):
        directory = bench("nucleo-f401re")
        with Bench.open(directory) as b:
            t0 = b.clock.now
        r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset", "--no-verify", "--vrange", vrange, "--no-stub")
        assert r.code == 0, r.err
        with Bench.open(directory) as b:
            took[vrange] = (b.clock.now - t0) / 1e9
        assert flash_bytes(directory, 0x0800_0000, len(data)) == data
    # 32 KiB: 8192 word programs instead of 32768 byte programs (16 us each), x32 sector erases
    assert took["0"] - took["3"] > 24576 * 16e-6
