"""Fidelity against a program we did not write: pyOCD drives the simulated ST-LINK through pyusb
exactly as it drives a real one (its STLinkUSBInterface finds probes with ``usb.core.find``; the
test hands that call the bench's backend). pyOCD lists the probe, discovers the DP, the APs and
the CoreSight ROM tables, reads and writes memory, controls the core, and programs flash with its
own flash algorithms running on the simulated core."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import usb.core

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench
from stflash.sim.stlink.usb_device import probe_serial

pyocd_usb = pytest.importorskip("pyocd.probe.stlink.usb")
from pyocd.core.helpers import ConnectHelper  # noqa: E402
from pyocd.flash.loader import MemoryLoader  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet_pyocd() -> None:
    # without a board id pyOCD looks for the probe's mass-storage volume and logs that it found none
    logging.getLogger("pyocd.probe.stlink.detect").setLevel(logging.CRITICAL)


def _bench(tmp_path: Path, part: str, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Path:
    directory = tmp_path / "bench"
    Bench.create(directory, part, **kwargs)
    backend = pyusb_backend(directory)

    def find(*args: Any, **kw: Any) -> Any:
        kw["backend"] = backend
        return usb.core.find(*args, **kw)

    monkeypatch.setattr(pyocd_usb, "usb_find", find)
    return directory


@contextmanager
def _session(directory: Path, target: str) -> Iterator[Any]:
    options = {"target_override": target, "frequency": 4_000_000, "project_dir": str(directory),
               "reset.hold_time": 0.001, "reset.post_delay": 0.001}
    with ConnectHelper.session_with_chosen_probe(blocking=False, options=options) as session:
        yield session


@pytest.mark.parametrize("part, kind, version, board", [
    ("nucleo-f401re", "V2-1", "V2-1", "NUCLEO-F401RE"),
    ("nucleo-h743zi", "V3", "V3", "NUCLEO-H743ZI"),
])
def test_pyocd_lists_the_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str, kind: str,
                               version: str, board: str) -> None:
    directory = _bench(tmp_path, part, monkeypatch, probe=kind)
    probes = ConnectHelper.get_all_connected_probes(blocking=False)
    assert len(probes) == 1
    probe = probes[0]
    with Bench.open(directory) as bench:
        assert probe.unique_id == probe_serial(bench).hex().upper()
    assert probe._link._device.version_name == version
    assert probe.associated_board_info.name == board  # from GET_BOARD_IDENTIFIERS
    link = probe._link  # pyOCD's STLink command layer: mode, GET_VERSION(_EX), GET_TARGET_VOLTAGE
    link.open()
    try:
        assert link.version_str == ("V2J45M31" if kind == "V2-1" else "V3J16S1M8B5")
        assert link.target_voltage == pytest.approx(3.3, abs=0.01)
    finally:
        link.close()


def test_pyocd_session_f401(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _bench(tmp_path, "nucleo-f401re", monkeypatch)
    firmware = bytes((i * 7) & 0xFF for i in range(256))
    with Bench.open(directory) as bench:
        assert bench.chip.rom_program(0x0800_0000, firmware).ok
    with _session(directory, "cortex_m") as session:
        target = session.board.target
        assert target.dp.dpidr.idr == 0x2BA0_1477
        assert list(target.aps) == [0]
        assert [c.name for c in target.aps[0].rom_table.components] == ["SCS", "DWT", "FPB", "ITM", "TPIU", "ETM"]
        assert target.read32(0xE004_2000) == 0x1000_0433  # DBGMCU_IDCODE
        assert bytes(target.read_memory_block8(0x0800_0000, 256)) == firmware
        target.write_memory_block8(0x2000_0001, list(range(1, 12)))  # unaligned head and tail
        assert bytes(target.read_memory_block8(0x2000_0000, 13)) == bytes(range(0, 12)) + b"\x00"
        target.write_memory_block32(0x2001_0000, [0x1234_5678, 0x9ABC_DEF0])
        assert target.read_memory_block32(0x2001_0000, 2) == [0x1234_5678, 0x9ABC_DEF0]


def test_pyocd_halts_reads_registers_and_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _bench(tmp_path, "nucleo-f401re", monkeypatch)
    with _session(directory, "cortex_m") as session:
        target = session.board.target
        target.halt()
        assert target.get_state() == target.State.HALTED
        target.write_memory_block8(0x2000_0000, list(bytes.fromhex("01200230fee70000")))
        target.write_core_register("pc", 0x2000_0000)
        target.write_core_register("xpsr", 0x0100_0000)
        target.write_core_register("r0", 0x55)
        assert target.read_core_register("r0") == 0x55
        target.step()
        assert target.read_core_register("pc") == 0x2000_0002 and target.read_core_register("r0") == 1
        target.resume()
        assert target.get_state() == target.State.RUNNING
        target.halt()
        assert target.read_core_register("pc") == 0x2000_0004 and target.read_core_register("r0") == 3


def test_pyocd_session_h743_three_aps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _bench(tmp_path, "nucleo-h743zi", monkeypatch, probe="V3")
    with _session(directory, "stm32h743xx") as session:  # pyOCD's built-in target, connects under reset
        target = session.board.target
        assert target.dp.dpidr.idr == 0x6BA0_2477
        assert list(target.aps) == [0, 1, 2]
        assert target.read32(0x5C00_1000) & 0xFFF == 0x450
        assert target.aps[2].read32(0xE00E_1000) & 0xFFF == 0x450  # through the APB-D port
        names = [c.name for c in target.aps[2].rom_table.components]
        assert names[:3] == ["SWO", "Trace Funnel", "TSGEN"]
        target.write_memory_block32(0x2400_0000, [1, 2, 3, 4])  # AXI SRAM
        assert target.read_memory_block32(0x2400_0000, 4) == [1, 2, 3, 4]


def test_pyocd_session_g071(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _bench(tmp_path, "nucleo-g071rb", monkeypatch)
    with _session(directory, "cortex_m") as session:
        target = session.board.target
        assert target.dp.dpidr.idr == 0x0BC1_1477
        assert target.aps[0].rom_addr == 0xF000_0000
        assert target.read32(0x4001_5800) & 0xFFF == 0x460
        target.write_memory_block32(0x2000_0100, [0xA5A5_5A5A])
        assert target.read32(0x2000_0100) == 0xA5A5_5A5A


@pytest.mark.parametrize("part, kind, target", [
    ("nucleo-f429zi", "V2-1", "stm32f429xi"),
    ("nucleo-h743zi", "V3", "stm32h743xx"),
    ("stm32f103rc", "V2", "stm32f103rc"),
])
def test_pyocd_programs_flash_with_its_own_algorithm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str,
                                                     kind: str, target: str) -> None:
    directory = _bench(tmp_path, part, monkeypatch, probe=kind)
    image = bytes((i * 13 + 7) & 0xFF for i in range(3000))
    with _session(directory, target) as session:
        loader = MemoryLoader(session)
        loader.add_data(0x0800_0000, image)
        loader.commit()
    with Bench.open(directory) as bench:  # the bytes are in the simulated flash array
        assert bytes(bench.chip.flash_banks[0][: len(image)]) == image
        assert bench.chip.flash_banks[0][len(image)] == 0xFF
