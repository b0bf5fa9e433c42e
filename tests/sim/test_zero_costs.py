"""STFLASH_SIM_ZERO_COSTS=1 (bench/zero_cost.py): flash operations and USB transfers take no
virtual time, so what is left of a run's wall time is the host's and the simulator's own work."""

from __future__ import annotations

import pytest

from stflash.chips.lookup import find_chip
from stflash.sim.clock import ZERO_COSTS_ENV
from stflash.sim.timing import timing_for


def test_the_switch_zeroes_flash_times(monkeypatch: pytest.MonkeyPatch) -> None:
    chip = find_chip("stm32f401re")
    sector = chip.sectors()[5]
    assert timing_for(chip).erase_ns(sector.size, 32) > 0
    monkeypatch.setenv(ZERO_COSTS_ENV, "1")
    timing = timing_for(chip)
    assert timing.erase_ns(sector.size, 32) == 0 and timing.program_ns(32) == 0 and timing.mass_erase_ns(32) == 0


def test_a_write_on_a_zero_cost_bench_takes_no_virtual_time(tmp_path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                             run_cli) -> None:
    from stflash.sim.bench import Bench

    Bench.create(tmp_path / "b", "nucleo-f401re")
    monkeypatch.setenv("STFLASH_SIM", str(tmp_path / "b"))
    monkeypatch.setenv(ZERO_COSTS_ENV, "1")
    image = tmp_path / "fw.bin"
    image.write_bytes(bytes(range(256)) * 64)
    with Bench.open(tmp_path / "b") as b:
        before = b.clock.now
    assert run_cli("write", str(image), "-c", "stlink", "--no-verify", "--no-reset").code == 0
    with Bench.open(tmp_path / "b") as b:
        spent = b.clock.now - before
        assert b.chip.read_block(0x0800_0000, len(image.read_bytes())) == image.read_bytes()
    assert spent < 50_000_000  # only the simulated core's own cycles remain (the loader's), well under 50 ms
