"""The simulator's shortcuts (the probe's block transfers into RAM, the core's idle-loop skip) are
invisible: every scenario here runs twice on fresh benches, with them and with
``STFLASH_SIM_EXACT=1``, and both runs must leave the same virtual clock, the same trace
(``trace.jsonl``), the same flash and RAM bytes, the same probe and debug-port state, and give the
host the same replies. The scenarios: stflash's own write, pyOCD programming with its own flash
algorithm, a pyOCD-like session at command level (algorithm in RAM driven through core registers and
run/status polls, 4 KiB auto-increment wraps crossed), the H7's 1 KiB wraps, accesses that fault
in the middle of a block, read protection, and a stopped chip (WAIT)."""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import usb.core
from test_core_programs import PROGRAMS
from test_stlink_usb import OK, Probe, bench_probe

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench
from stflash.sim.clock import EXACT_ENV
from stflash.sim.stlink import dap as dap_module

MS = 1_000_000
FLASH = 0x0800_0000
SWD_AP_FAULT, SWD_AP_WAIT = 0x11, 0x10
F4_FLASH = 0x4002_3C00  # FLASH_KEYR +0x04, SR +0x0C, CR +0x10
F4_RAM_END = 0x2001_8000  # F401xE: 96 KiB of SRAM, nothing decoded behind it
H7_AXI_SRAM = 0x2400_0000


@pytest.fixture
def blocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The word count of every block access the DAP did at once."""
    done: list[int] = []
    original = dap_module.Dap.drw_block

    def spy(self: dap_module.Dap, ap: int, count: int, values: list[int] | None) -> list[int] | None:
        got = original(self, ap, count, values)
        if got is not None:
            done.append(count)
        return got

    monkeypatch.setattr(dap_module.Dap, "drw_block", spy)
    yield done


def bench_state(directory: Path) -> dict[str, Any]:
    """What a run leaves on the bench that anyone could observe."""
    with Bench.open(directory) as bench:
        chip = bench.chip
        state = {
            "clock": bench.clock.now,
            "flash": [bytes(b) for b in chip.flash_banks],
            "ram": [bytes(r.data) for r in chip.ram],
            "link": bench.board.link_state.get("stlink", {}),
            "cores": [c.to_state() if c is not None else None for c in chip.cores],
        }
    trace = directory / "trace.jsonl"
    state["trace"] = trace.read_text() if trace.exists() else ""
    return state


def _same_system_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same draws from ``random.SystemRandom`` in both runs (a client may number its runs at
    random, e.g. the flash loader's sequence numbers), so their bytes can be compared."""
    rng = random.Random(20261121)
    monkeypatch.setattr(random.SystemRandom, "getrandbits", lambda self, k: rng.getrandbits(k))
    monkeypatch.setattr(random.SystemRandom, "random", lambda self: rng.random())


def both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocks: list[int],
              scenario: Callable[[Path], Any]) -> tuple[Any, list[int]]:
    """``scenario(directory)`` on a fresh directory with the shortcuts, then on another exact;
    what it returns and what it leaves must be equal. Returns its result and the block accesses
    of the first run (the exact run must do none)."""
    monkeypatch.delenv(EXACT_ENV, raising=False)
    _same_system_random(monkeypatch)
    fast = scenario(tmp_path / "fast")
    fast_state = bench_state(tmp_path / "fast" / "bench")
    fast_blocks = list(blocks)
    blocks.clear()
    monkeypatch.setenv(EXACT_ENV, "1")
    _same_system_random(monkeypatch)
    exact = scenario(tmp_path / "exact")
    exact_state = bench_state(tmp_path / "exact" / "bench")
    assert not blocks, "STFLASH_SIM_EXACT=1 must move every word through TAR/DRW"
    for key in fast_state:
        assert fast_state[key] == exact_state[key], key
    assert fast == exact
    return fast, fast_blocks


@pytest.mark.parametrize("board, kind, size", [
    ("nucleo-h743zi", "V3", 16 * 1024),  # the F4 shows in the pyOCD-like session below
    ("nucleo-g071rb", "V2-1", 2 * 1024),
])
def test_stflash_write_and_verify_leave_the_same_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       blocks: list[int], run_cli: Any, board: str, kind: str,
                                                       size: int) -> None:
    image = struct.pack("<II", 0x2000_2000, FLASH + 0x201) + random.Random(size).randbytes(size - 8)

    def scenario(directory: Path) -> int:
        directory.mkdir()
        Bench.create(directory / "bench", board, probe=kind)
        path = directory / "image.bin"
        path.write_bytes(image)
        monkeypatch.setenv("STFLASH_SIM", str(directory / "bench"))
        return int(run_cli("-q", "write", str(path), "-c", "stlink").code)

    code, fast_blocks = both_ways(tmp_path, monkeypatch, blocks, scenario)
    assert code == 0
    assert sum(fast_blocks) * 4 >= size  # the image went into RAM by block accesses
    with Bench.open(tmp_path / "fast" / "bench") as bench:
        assert bench.chip.read_block(FLASH, size, master="cpu") == image


def test_pyocd_flashing_with_its_own_algorithm_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           blocks: list[int]) -> None:
    """pyOCD's own flash algorithm on the simulated H743, its own wait loops and polls (the F4
    shape is the command-level session below)."""
    board, kind, target = "nucleo-h743zi", "V3", "stm32h743xx"
    pyocd_usb = pytest.importorskip("pyocd.probe.stlink.usb")
    from pyocd.core.helpers import ConnectHelper
    from pyocd.flash.loader import MemoryLoader

    logging.getLogger("pyocd").setLevel(logging.CRITICAL)
    image = random.Random(5).randbytes(3000)

    def scenario(directory: Path) -> None:
        Bench.create(directory / "bench", board, probe=kind)
        backend = pyusb_backend(directory / "bench")
        monkeypatch.setattr(pyocd_usb, "usb_find", lambda *a, **k: usb.core.find(*a, **{**k, "backend": backend}))
        options = {"target_override": target, "frequency": 4_000_000, "project_dir": str(directory),
                   "reset.hold_time": 0.001, "reset.post_delay": 0.001}
        with ConnectHelper.session_with_chosen_probe(blocking=False, options=options) as session:
            loader = MemoryLoader(session)
            loader.add_data(FLASH, image)
            loader.commit()

    _, fast_blocks = both_ways(tmp_path, monkeypatch, blocks, scenario)
    assert fast_blocks
    with Bench.open(tmp_path / "fast" / "bench") as bench:
        assert bench.chip.read_block(FLASH, len(image), master="cpu") == image


def _write_reg(probe: Probe, reg: int, value: int) -> None:
    assert probe.cmd(0xF2, 0x34, reg, *struct.pack("<I", value), n=2)[0] == OK


def _pyocd_like_f4(directory: Path) -> list[Any]:
    """What pyOCD does with a flash algorithm, at command level: halt, load the algorithm and a
    data buffer into RAM (the buffer crosses the AHB-AP's 4 KiB wrap twice), unlock and set up the
    controller through debug registers, set the core's registers, run, poll the status until the
    BKPT halts it, then read flash and RAM back in 1 KiB blocks."""
    replies: list[Any] = []
    data = random.Random(3).randbytes(6 * 1024)
    src = 0x2000_0C08  # not aligned to the wrap
    with bench_probe(directory, "nucleo-f401re") as probe:
        probe.connect()
        replies.append(probe.cmd(0xF2, 0x02, n=2))  # FORCEDEBUG
        probe.write(0x2000_0000, PROGRAMS["f4_words"].code)
        probe.write(src, data)
        replies.append(probe.status2())
        for key in (0x4567_0123, 0xCDEF_89AB):
            replies.append(probe.debug_write(F4_FLASH + 0x04, key))
        replies.append(probe.debug_write(F4_FLASH + 0x10, 0x0000_0201))  # PSIZE x32 | PG
        for reg, value in ((0, src), (1, FLASH), (2, len(data)), (13, 0x2000_8000), (15, 0x2000_0000),
                           (16, 0x0100_0000)):
            _write_reg(probe, reg, value)
        replies.append(probe.cmd(0xF2, 0x09, n=2))  # RUNCORE
        polls = 0
        while probe.cmd(0xF2, 0x01, n=2)[0] != 0x81:  # GETSTATUS until CORE_HALTED
            polls += 1
            assert polls < 1000
        replies.append(polls)
        replies.append(probe.debug_read(F4_FLASH + 0x0C))
        replies.append(b"".join(probe.read(FLASH + i, 1024) for i in range(0, len(data), 1024)))
        replies.append(probe.read(src, 6144))
        replies.append(probe.status2())
    assert replies[-3] == data and replies[-2] == data
    return replies


def test_a_pyocd_like_session_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         blocks: list[int]) -> None:
    replies, fast_blocks = both_ways(tmp_path, monkeypatch, blocks, _pyocd_like_f4)
    assert replies[-1] == (OK, 0)
    assert fast_blocks  # the RAM transfers went by blocks ...
    assert max(fast_blocks) <= 1024  # ... never across a 4 KiB auto-increment block


def _wraps_h7(directory: Path) -> list[Any]:
    """The H7's AHB-AP wraps every 1 KiB: writes and reads that cross it, end on it, stay short of
    it, and TAR as the target holds it afterwards."""
    out: list[Any] = []
    data = random.Random(7).randbytes(5 * 1024)
    with bench_probe(directory, "nucleo-h743zi", probe="V3") as probe:
        probe.connect()
        for start, length in ((0x3F4, 5 * 1024), (0x1C00, 1024), (0x2200, 0x200), (0x2808, 8)):
            probe.write(H7_AXI_SRAM + start, data[:length])
            out.append(probe.status2())
            out.append(probe.dap_read(0, 0x04))  # TAR: the firmware's own AP read, after the block
        for start, length in ((0x3F4, 5 * 1024), (0x1C00, 1024), (0x1FFC, 4)):
            out.append(probe.read(H7_AXI_SRAM + start, length))
            out.append(probe.dap_read(0, 0x04))
        probe.write(H7_AXI_SRAM + 0x3000, data[:12], width=2)  # 16-bit: word by word
        probe.write(H7_AXI_SRAM + 0x3101, data[:7], width=1)
        out.append(probe.read(H7_AXI_SRAM + 0x3000, 0x110))
    assert out[8][:5 * 1024] == data
    return out


def test_auto_increment_wraps_are_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           blocks: list[int]) -> None:
    out, fast_blocks = both_ways(tmp_path, monkeypatch, blocks, _wraps_h7)
    assert fast_blocks and max(fast_blocks) <= 256  # 1 KiB of words at most
    assert out[1] == (OK, H7_AXI_SRAM + 0x3F4 + 5 * 1024)  # TAR after the first write
    assert out[3] == (OK, H7_AXI_SRAM + 0x1C00)  # ended on the wrap: TAR went back to its block's start


def _faults_f4(directory: Path) -> list[Any]:
    """Transfers that run off the end of SRAM: the words before the end are written, the first one
    after faults, GETLASTRWSTATUS2 names it; the next command works again."""
    out: list[Any] = []
    data = bytes(range(256)) * 16
    with bench_probe(directory, "nucleo-f401re") as probe:
        probe.connect()
        probe.write(F4_RAM_END - 0x800, data)
        out.append(probe.status2())
        out.append(probe.read(F4_RAM_END - 0x800, 4096))
        out.append(probe.status2())
        out.append(probe.read(F4_RAM_END - 0x10, 0x10))
        out.append(probe.dap_read(0xFFFF, 0x4))  # CTRL/STAT: sticky flags cleared by the firmware
    return out


def test_a_fault_in_the_middle_of_a_block_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      blocks: list[int]) -> None:
    out, fast_blocks = both_ways(tmp_path, monkeypatch, blocks, _faults_f4)
    assert out[0] == (SWD_AP_FAULT, F4_RAM_END) and out[2] == (SWD_AP_FAULT, F4_RAM_END)
    assert out[1][:0x800] == (bytes(range(256)) * 16)[:0x800] and out[1][0x800:] == bytes(0x800)
    assert fast_blocks  # the part in SRAM went at once, the rest word by word


def _protected_f4(directory: Path) -> list[Any]:
    """Read protection level 1 with a debugger attached: SRAM answers, flash faults."""
    out: list[Any] = []
    with bench_probe(directory, "nucleo-f401re", scenarios=["rdp1"]) as probe:
        probe.connect()
        probe.write(0x2000_0100, bytes(range(64)))
        out.append(probe.status2())
        out.append(probe.read(0x2000_0100, 64))
        out.append(probe.read(FLASH, 64))
        out.append(probe.status2())
    return out


def test_read_protection_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocks: list[int]) -> None:
    out, _ = both_ways(tmp_path, monkeypatch, blocks, _protected_f4)
    assert out[1] == bytes(range(64)) and out[3] == (SWD_AP_FAULT, FLASH)


def _stopped_f4(directory: Path) -> list[Any]:
    """Stop mode with debug in Stop off: memory accesses answer WAIT until the firmware is reset."""
    out: list[Any] = []
    with bench_probe(directory, "nucleo-f401re", scenarios=["low-power"]) as probe:
        with Bench.open(directory / "bench") as bench:
            bench.clock.advance(20 * MS)
        probe.cmd(0xF3, 0x07)
        assert probe.enter_swd() == OK
        probe.write(0x2000_0000, bytes(range(32)))
        out.append(probe.status2())
        out.append(probe.read(0x2000_0000, 32))
        out.append(probe.status2())
    return out


def test_a_stopped_chip_waits_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocks: list[int]) -> None:
    out, fast_blocks = both_ways(tmp_path, monkeypatch, blocks, _stopped_f4)
    assert out[0] == (SWD_AP_WAIT, 0x2000_0000) and not fast_blocks
