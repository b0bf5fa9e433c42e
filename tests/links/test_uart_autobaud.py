"""``-c uart:PORT:auto`` against the virtual bench: the fastest rate the ROM carries, found with a
reset, a handshake and a checked write/read-back per rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from stflash.sim.bench import Bench

from linkbench import flash_bytes, random_file

WIRING = "dtr=!nrst,rts=!boot0"  # the bench's adapter lines; stflash is told --wiring dtr-reset-rts-boot0
AUTO = ("-c", "uart:sim:auto", "--wiring", "dtr-reset-rts-boot0")


def wired_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str, wiring: str | None = WIRING) -> Path:
    directory = tmp_path / "bench"
    Bench.create(directory, part, scenarios=("bootloader-only",), uart_wiring=wiring, force=True)
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    return directory


@pytest.mark.parametrize(("part", "expected"), [
    ("nucleo-h743zi", 921600),  # hardware auto-baud (AN2606 Table 6): no software jitter
    ("nucleo-f401re", 115200),  # SysTick measurement, up to -6 % at 115200 and twice that at 230400
])
def test_auto_settles_on_the_fastest_rate_the_chip_carries(part: str, expected: int, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = wired_bench(tmp_path, monkeypatch, part)
    r = run_cli("--json", "probe", *AUTO)
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["baud"] == expected
    assert "fastest rate that passed" in obs["baud_choice"]
    faster = [rate for rate in (921600, 460800, 230400) if rate > expected]
    assert all(f"{rate} failed" in obs["baud_choice"] for rate in faster)  # tried first, and refused
    with Bench.open(directory) as b:  # the session it kept runs at that rate (the ROM's own measure)
        rom = b.board.link_state["uart"]["baud"]
    assert abs(rom / expected - 1) < 0.045

    path, data = random_file(tmp_path, 40 * 1024 + 4)
    r = run_cli("write", str(path), *AUTO, "--no-reset")
    assert r.code == 0, r.err
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data


def test_a_rate_whose_check_fails_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    """At 921600 the H743 answers the handshake, Get and Get ID; a byte of the 256-byte pattern then
    arrives changed, the ROM's checksum refuses the write, and auto moves down a rate."""
    directory = wired_bench(tmp_path, monkeypatch, "nucleo-h743zi")
    with Bench.open(directory) as b:
        # 0x7F, Get, Get ID twice, Write Memory, address, N: 15 host bytes; the 20th is pattern[4]
        b.set("uart-corrupt-after", "20")
    r = run_cli("--json", "probe", *AUTO)
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["baud"] == 460800
    assert "921600 failed: the bootloader refused the write at 0x" in obs["baud_choice"]


def test_without_reset_wiring_auto_keeps_the_rate_the_rom_locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  run_cli) -> None:  # type: ignore[no-untyped-def]
    wired_bench(tmp_path, monkeypatch, "nucleo-h743zi", wiring=None)
    # a first session at 57600 leaves the ROM synchronised at that rate (nothing resets it)
    assert run_cli("probe", "-c", "uart:sim:57600").code == 0
    r = run_cli("--json", "probe", "-c", "uart:sim:auto")
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["baud"] == 57600 and obs["handshake"] == "already"
    assert "without reset wiring" in obs["baud_choice"] and "had locked that rate before" in obs["baud_choice"]


def test_without_reset_wiring_a_fresh_rom_is_locked_at_115200(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              run_cli) -> None:  # type: ignore[no-untyped-def]
    """The H743 would carry 921600, but without a reset line the first 0x7F decides for good:
    auto takes the rate AN3155 says was tested, and says why."""
    wired_bench(tmp_path, monkeypatch, "nucleo-h743zi", wiring=None)
    r = run_cli("--json", "probe", "-c", "uart:sim:auto")
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["baud"] == 115200 and obs["handshake"] == "synced"
    assert "locked it now" in obs["baud_choice"] and "--wiring" in obs["baud_choice"]


def test_a_fixed_rate_the_rom_cannot_follow_fails_with_the_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                run_cli) -> None:  # type: ignore[no-untyped-def]
    """What auto avoids: the F401 measures a 921600-baud 0x7F 13 % slow and its ACK is garbage."""
    wired_bench(tmp_path, monkeypatch, "nucleo-f401re", wiring=None)
    r = run_cli("probe", "-c", "uart:sim:921600")
    assert r.code == 6
    assert "921600 baud" in r.err
