"""stflash and pyOCD on the same bench, each checking the other: what ``stflash write -c stlink``
wrote, pyOCD reads byte-identical (with its built-in targets, DBGMCU id included); what pyOCD
programs with its own flash algorithm running on the simulated core, ``stflash read`` reads back
identical."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import usb.core

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench

pyocd_usb = pytest.importorskip("pyocd.probe.stlink.usb")
from pyocd.core.helpers import ConnectHelper  # noqa: E402
from pyocd.flash.loader import MemoryLoader  # noqa: E402

CASES = [  # board, probe, pyOCD's built-in target, DBGMCU_IDCODE address, dev id
    ("nucleo-f429zi", "V2-1", "stm32f429xi", 0xE004_2000, 0x419),
    ("nucleo-h743zi", "V3", "stm32h743xx", 0x5C00_1000, 0x450),
    ("stm32f103rc", "V2", "stm32f103rc", 0xE004_2000, 0x414),
]


@pytest.fixture(autouse=True)
def _quiet_pyocd() -> None:
    logging.getLogger("pyocd").setLevel(logging.CRITICAL)


def _bench(tmp_path: Path, board: str, probe: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bench"
    Bench.create(directory, board, probe=probe)
    backend = pyusb_backend(directory)

    def find(*args: Any, **kw: Any) -> Any:
        kw["backend"] = backend
        return usb.core.find(*args, **kw)

    monkeypatch.setattr(pyocd_usb, "usb_find", find)
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    return directory


@contextmanager
def _pyocd(directory: Path, target: str) -> Iterator[Any]:
    options = {"target_override": target, "frequency": 4_000_000, "project_dir": str(directory),
               "reset.hold_time": 0.001, "reset.post_delay": 0.001}
    with ConnectHelper.session_with_chosen_probe(blocking=False, options=options) as session:
        yield session


@pytest.mark.parametrize("board, probe, target, idcode, dev_id", CASES)
def test_pyocd_reads_what_stflash_wrote(board: str, probe: str, target: str, idcode: int, dev_id: int,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = _bench(tmp_path, board, probe, monkeypatch)
    data = os.urandom(20 * 1024 + 6)
    path = tmp_path / "image.bin"
    path.write_bytes(data)
    r = run_cli("write", str(path), "--address", "0x08000000", "-c", "stlink", "--no-reset")
    assert r.code == 0, r.err
    with _pyocd(directory, target) as session:
        t = session.board.target
        assert t.read32(idcode) & 0xFFF == dev_id
        assert bytes(t.read_memory_block8(0x0800_0000, len(data))) == data


@pytest.mark.parametrize("board, probe, target, idcode, dev_id", CASES[:2])
def test_stflash_reads_what_pyocd_programmed(board: str, probe: str, target: str, idcode: int, dev_id: int,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = _bench(tmp_path, board, probe, monkeypatch)
    data = os.urandom(24 * 1024)
    with _pyocd(directory, target) as session:
        loader = MemoryLoader(session)
        loader.add_data(0x0800_0000, data)
        loader.commit()
    back = tmp_path / "back.bin"
    r = run_cli("read", str(back), "0x08000000", str(len(data)), "-c", "stlink")
    assert r.code == 0, r.err
    assert back.read_bytes() == data
    r = run_cli("--json", "probe", "-c", "stlink")
    assert r.code == 0 and r.json["dev_id"] == dev_id


def test_pyocd_sees_the_core_stflash_left_halted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    """``stflash reset --halt`` stops the core at its reset vector; pyOCD finds it there."""
    directory = _bench(tmp_path, "nucleo-f401re", "V2-1", monkeypatch)
    vectors = (0x2001_0000).to_bytes(4, "little") + (0x0800_0101).to_bytes(4, "little")
    path = tmp_path / "v.bin"
    path.write_bytes(vectors + b"\xfe\xe7" * 64)  # b . at 0x08000008...; reset handler at 0x100
    assert run_cli("write", str(path), "--address", "0x08000000", "-c", "stlink").code == 0
    r = run_cli("reset", "--halt", "-c", "stlink")
    assert r.code == 0, r.err
    with _pyocd(directory, "cortex_m") as session:
        t = session.board.target
        assert t.get_state() == t.State.HALTED
        assert t.read_core_register("pc") == 0x0800_0100
        assert t.read_core_register("sp") == 0x2001_0000
