"""After its own NRST pulse the host greets the ROM as soon as the ROM can listen (AN2606
"Bootloader startup timings"): a 0x7F 2 ms after the release, then the handshake proper 100 ms
after it for a ROM still starting (its second 0x7F 0.5 s later), and once more after a second reset
and 2.7 s for a ROM that stays silent longer still."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stflash.sim.bench import Bench
from stflash.sim.uart import bootloader

PROBE = ("--json", "probe", "-c", "uart:sim:115200", "--wiring", "dtr-reset-rts-boot0")


def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str) -> Path:
    directory = tmp_path / "bench"
    Bench.create(directory, part, scenarios=("bootloader-only",), uart_wiring="dtr=!nrst,rts=!boot0", force=True)
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    return directory


def release_and_first_ack(directory: Path) -> tuple[int, int, int, list[str]]:
    """The chip's resets since power-on, when NRST was last released, when the first ACK of a
    handshake reached the host, and what the trace says was lost."""
    with Bench.open(directory) as b:
        resets, released = b.chip.reset_count, b.chip.reset_ns
    records = [json.loads(line) for line in (directory / "trace.jsonl").read_text().splitlines()]
    uart = [r for r in records if r["link"] == "uart"]
    ack = next(r["end_ns"] for r in uart if r["dir"] == "in" and r["what"] == "sync" and r["bytes"])
    return resets - 1, released, ack, [r["what"] for r in uart if "lost" in r["what"]]


@pytest.mark.parametrize(("part", "low_ms", "high_ms", "lost"), [
    ("nucleo-g071rb", 2, 5, 0),  # 0.39 ms: the early 0x7F is answered
    ("nucleo-f401re", 100, 104, 1),  # 74.5 ms: the early one is lost, the one at 100 ms answered
    ("nucleo-h743zi", 100, 104, 1),  # 54 ms
    ("stm32h7a3zi", 600, 604, 2),  # 545 ms: the handshake's second 0x7F, 0.5 s after its first
])
def test_the_handshake_comes_as_soon_as_the_rom_listens(
        part: str, low_ms: float, high_ms: float, lost: int,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = bench(tmp_path, monkeypatch, part)
    r = run_cli(*PROBE)
    assert r.code == 0, r.err
    resets, released, ack, what = release_and_first_ack(directory)
    assert resets == 1
    assert low_ms * 1e6 < ack - released < high_ms * 1e6
    assert what == ["0x7f lost: the ROM is still starting"] * lost


def test_a_rom_silent_after_the_handshake_gets_a_second_reset_and_a_longer_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    """An L053 (no start-up figure in our references) made to take 2 s, like an L47x without its
    LSE crystal (2.56 s): silent at 2 ms, 100 ms and 600 ms, answered after the second reset."""
    monkeypatch.setattr(bootloader, "UNKNOWN_STARTUP_MS", 2000.0)
    directory = bench(tmp_path, monkeypatch, "stm32l053r8")
    r = run_cli(*PROBE)
    assert r.code == 0, r.err
    resets, released, ack, what = release_and_first_ack(directory)
    assert len(what) == 3 and resets == 2
    assert 2.0e9 < ack - released < 2.8e9
