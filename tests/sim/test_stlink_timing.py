"""What probe commands cost on the virtual clock: USB transfers (full/high speed frames), the
firmware's per-command and per-access time, and SWD wire time at the selected clock, so that
tools that move the same bytes with fewer or bigger commands measurably finish sooner."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from test_stlink_usb import OK, bench_probe

from stflash.sim.bench import Bench
from stflash.sim.usb.timing import STLINK_TIMING

SRAM = 0x2000_0000


def _timed(tmp_path: Path, action: object) -> int:
    with Bench.open(tmp_path / "bench") as bench:
        t0 = bench.clock.now
        action()  # type: ignore[operator]
        return bench.clock.now - t0


def test_wire_time_follows_the_swd_clock(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        probe.cmd(0xF2, 0x43, 0x01, 0x00, n=2)  # 1.8 MHz
        slow = _timed(tmp_path, lambda: probe.read(SRAM, 4096))
        probe.cmd(0xF2, 0x43, 0x00, 0x00, n=2)  # 4 MHz
        fast = _timed(tmp_path, lambda: probe.read(SRAM, 4096))
    # ~1027 transactions (SELECT/CSW/TAR, 1024 DRW reads, RDBUFF) of 46 clocks each
    expected = 1027 * 46 * (1 / 1.8e6 - 1 / 4.0e6) * 1e9
    assert slow - fast == pytest.approx(expected, abs=2.5e6)


def test_one_big_read_beats_many_register_reads(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        block = _timed(tmp_path, lambda: probe.read(SRAM, 1024))
        words = _timed(tmp_path, lambda: [probe.debug_read(SRAM + 4 * i) for i in range(256)])
    assert words > 20 * block  # 256 USB round trips against one


def test_v3_high_speed_and_24_mhz_is_faster(tmp_path: Path) -> None:
    times = {}
    for kind in ("V2-1", "V3"):
        with bench_probe(tmp_path / kind, probe=kind) as probe:
            if kind == "V3":
                probe.cmd(0xF2, 0x61, 0x00, 0x00, *struct.pack("<I", 24000), n=8)
            probe.connect()
            times[kind] = _timed(tmp_path / kind, lambda probe=probe: probe.read(SRAM, 6144))  # type: ignore[misc]
    assert times["V3"] * 3 < times["V2-1"]


def test_firmware_overhead_per_command_and_access(tmp_path: Path) -> None:
    t = STLINK_TIMING["V2-1"]
    with bench_probe(tmp_path) as probe:
        probe.connect()
        with Bench.open(tmp_path / "bench") as bench:
            t0 = bench.clock.now
            probe.send(0xF2, 0x36, *struct.pack("<I", SRAM))  # READDEBUGREG, reply left unread
            spent = bench.clock.now - t0
    # command overhead + 4 transactions (TAR, DRW, RDBUFF, CSW) + one full-speed frame for the OUT
    assert spent >= t.command_ns + 3 * (t.access_ns + 46 * 1e9 / 1.8e6)
    assert spent <= t.command_ns + 5 * (t.access_ns + 46 * 1e9 / 1.8e6) + 2_000_000


def test_swd_traffic_is_traced(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        probe.read(SRAM, 256)
    lines = [json.loads(x) for x in (tmp_path / "bench" / "trace.jsonl").read_text().splitlines()]
    swd = [x for x in lines if x["link"] == "swd"]
    assert swd and all(x["end_ns"] > x["start_ns"] for x in swd)
    assert any(x["bytes"] >= 4 * 64 for x in swd)  # the 64-word read shows up as SWD traffic


def test_status_query_costs_no_wire_time(tmp_path: Path) -> None:
    t = STLINK_TIMING["V2-1"]
    with bench_probe(tmp_path) as probe:
        probe.connect()
        probe.read(SRAM, 4)
        status_only = _timed(tmp_path, lambda: probe.send(0xF2, 0x3E))  # GETLASTRWSTATUS2
        assert probe.receive(12)[0] == OK
    # firmware overhead, then the OUT transfer in the next 1 ms frame; no SWD transaction
    assert t.command_ns <= status_only <= t.command_ns + 2_000_000
