"""stflash's UART stub against the virtual bench: the ROM runs it after Go, it takes over USART1
and the flash, and what users see is the image in flash, sooner, and the same messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stflash.sim.bench import Bench

from linkbench import clock, flash_bytes, random_file

PARTS = ["nucleo-f401re", "nucleo-h743zi", "nucleo-g071rb"]


def _uart_out(directory: Path) -> list[dict[str, object]]:
    records = [json.loads(line) for line in (directory / "trace.jsonl").read_text().splitlines()]
    return [r for r in records if r["link"] == "uart"]


@pytest.mark.parametrize("part", PARTS)
def test_the_stub_writes_and_verifies_faster_than_the_rom(part: str, bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, data = random_file(tmp_path, 48 * 1024 + 36)
    times = {}
    for how in ("--no-stub", None):
        directory = bench(part)
        start = clock(directory)
        r = run_cli("-v", "write", str(path), "-c", "uart:sim", "--no-reset", *([how] if how else []))
        assert r.code == 0, r.err
        assert "verified" in r.out
        assert flash_bytes(directory, 0x0800_0000, len(data)) == data
        times[how] = clock(directory) - start
    # the ROM: 256-byte frames with three turnarounds each, then a read-back; the stub: 2 KiB
    # frames back to back, and a CRC32 on the target instead of the read-back
    assert times[None] < 0.6 * times["--no-stub"], times


def test_the_wire_carries_the_stub_then_big_frames(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 64 * 1024)
    assert run_cli("write", str(path), "-c", "uart:sim", "--no-reset").code == 0
    records = _uart_out(directory)
    go = [i for i, r in enumerate(records) if r.get("what") == "Go" and r["dir"] == "out"]
    assert go, [r.get("what") for r in records][:40]
    after = records[go[-1] + 2 :]
    out = sum(int(r["bytes"]) for r in after if r["dir"] == "out")  # type: ignore[call-overload]
    assert len(data) <= out < len(data) * 1.02  # the frames' headers and CRCs: under 2 %


def test_rewriting_the_same_image_sums_sectors_on_the_target(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 200 * 1024)
    t0 = clock(directory)
    assert run_cli("write", str(path), "-c", "uart:sim", "--no-reset").code == 0
    t1 = clock(directory)
    with Bench.open(directory) as b:
        b.power_cycle()
    t2 = clock(directory)
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset")
    assert r.code == 0, r.err
    assert "nothing to write" in r.out and "6 sector(s) already hold the image: skipped" in r.err
    assert (clock(directory) - t2) < 0.1 * (t1 - t0)
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data


def test_no_stub_keeps_to_the_rom(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-g071rb")
    path, data = random_file(tmp_path, 8 * 1024)
    assert run_cli("write", str(path), "-c", "uart:sim", "--no-reset", "--no-stub").code == 0
    assert not any(r.get("what") == "Go" for r in _uart_out(directory))
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data


def test_a_damaged_frame_is_sent_again(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 32 * 1024)
    with Bench.open(directory) as b:
        b.set("uart-corrupt-after", "6000")  # well inside the stub's frames
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset")
    assert r.code == 0, r.err
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data
    with Bench.open(directory) as b:
        assert "uart-corrupt-after" not in b.board.faults


def test_read_through_the_stub(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-h743zi")
    path, data = random_file(tmp_path, 40 * 1024)
    assert run_cli("write", str(path), "-c", "uart:sim", "--no-reset").code == 0
    with Bench.open(directory) as b:
        b.power_cycle()
    out = tmp_path / "back.bin"
    r = run_cli("read", str(out), "0x08000000", str(len(data)), "-c", "uart:sim")
    assert r.code == 0, r.err
    assert out.read_bytes() == data


def test_a_write_protected_sector_is_named(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    with Bench.open(directory) as b:
        b.chip.set_option("nWRP", 0xFF - 0x2)  # sector 1 protected (nWRP bit = 0)
        b.power_cycle()
    path, _ = random_file(tmp_path, 40 * 1024)
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset")
    assert r.code != 0
    assert "0x08004000" in r.err
    # the stub erases sector 1 right before its first frame: sector 0 has landed, and the error
    # says so (a partial write, exit 16), in one line without a traceback
    assert r.code == 16, r.err
    assert "WRPERR: sector 1 at 0x08004000 is write-protected" in r.err
    assert "0x08000000-0x08003fff written" in r.err and "Traceback" not in r.err


def test_power_lost_under_the_stub_reports_what_landed(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 40 * 1024)
    with Bench.open(directory) as b:
        b.set("power-loss-during", "program@3000")  # the x32 word at 0x08002edc, in the sixth frame
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset")
    assert r.code == 16, r.err
    assert "the flashing stub does not answer any more" in r.err
    assert "0x08000000-0x080027ff written" in r.err and "Traceback" not in r.err
    assert flash_bytes(directory, 0x0800_0000, 0x2800) == data[:0x2800]


def test_a_small_write_stays_with_the_rom(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Under 4 KiB the ROM is done before the stub would run: no Go, a read-back verify."""
    directory = bench("nucleo-f401re")
    path, data = random_file(tmp_path, 1000)
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset")
    assert r.code == 0, r.err
    assert "verified (read-back)" in r.out, r.out
    assert not any(r.get("what") == "Go" for r in _uart_out(directory))
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data


def _wired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str, port: str, lines: str | None = None) -> Path:
    directory = tmp_path / "wired"
    Bench.create(directory, part, scenarios=("bootloader-only",), uart_port=port, uart_wiring=lines, force=True)
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    return directory


@pytest.mark.parametrize(("part", "port"), [
    ("STM32F401VE", "USART2 PD5/PD6"),
    ("nucleo-h743zi", "USART3 PB10/PB11"),
    ("nucleo-g071rb", "USART2 PA2/PA3"),  # the Nucleo's virtual COM port
    ("nucleo-g071rb", "USART3 PC10/PC11"),
])
def test_the_stub_answers_on_the_usart_the_host_is_wired_to(part: str, port: str, tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path, data = random_file(tmp_path, 48 * 1024)
    times = {}
    for how in ("--no-stub", None):
        directory = _wired(tmp_path, monkeypatch, part, port)
        start = clock(directory)
        r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset", *([how] if how else []))
        assert r.code == 0, r.err
        assert flash_bytes(directory, 0x0800_0000, len(data)) == data
        times[how] = clock(directory) - start
    assert times[None] < 0.6 * times["--no-stub"], times  # the stub did the work


def test_a_board_on_pins_the_stub_does_not_listen_on_gets_the_rom(tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # the F407's ROM also listens on USART3's second pair, PC10/PC11; the stub listens on PB10/PB11
    path, data = random_file(tmp_path, 24 * 1024)
    times = {}
    for how in ("--no-stub", None):
        directory = _wired(tmp_path, monkeypatch, "STM32F407VG", "USART3 PC10/PC11")
        start = clock(directory)
        r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset", *([how] if how else []))
        assert r.code == 0, r.err
        assert flash_bytes(directory, 0x0800_0000, len(data)) == data
        times[how] = clock(directory) - start
    assert "the flashing stub did not answer on USART1 PA9/PA10, USART3 PB10/PB11" in r.err  # the slow write explained
    assert "did the work" in r.err
    records = _uart_out(directory)
    go = max(i for i, r in enumerate(records) if r.get("what") == "Go")
    assert any(r.get("what") == "Write Memory" for r in records[go:])  # the ROM wrote the image
    # the stub's upload, its time to give up and reset the chip, the handshake again: no hang
    assert 0.5e9 < times[None] - times["--no-stub"] < 1.5e9, times


def test_with_a_reset_line_the_host_does_not_wait_for_an_unwoken_stub(tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Wired to NRST, the host resets the chip itself instead of waiting for the stub to give up."""
    path, data = random_file(tmp_path, 24 * 1024)
    times = {}
    for how in ("--no-stub", None):
        directory = _wired(tmp_path, monkeypatch, "STM32F407VG", "USART3 PC10/PC11", "dtr=!nrst,rts=!boot0")
        start = clock(directory)
        r = run_cli("write", str(path), "-c", "uart:sim", "--wiring", "dtr-reset-rts-boot0", "--no-reset",
                    *([how] if how else []))
        assert r.code == 0, r.err
        assert flash_bytes(directory, 0x0800_0000, len(data)) == data
        times[how] = clock(directory) - start
    assert "the flashing stub did not answer" in r.err
    # the stub's upload (0.25 s at 115200), three wake pairs (60 ms), an NRST pulse, the ROM's start
    # (0.1 s) and the greeting again; waiting for the stub to give up as well would add 0.5 s
    assert 0.3e9 < times[None] - times["--no-stub"] < 0.7e9, times
