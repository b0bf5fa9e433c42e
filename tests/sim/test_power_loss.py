"""A supply failure during erase or program leaves the flash part-done, as on a real chip."""

from __future__ import annotations

from pathlib import Path

import pytest

from stflash.errors import UsageError
from stflash.sim.bench import Bench
from stflash.sim.faults import PowerLost


def test_power_loss_while_programming_leaves_a_prefix_a_damaged_unit_and_erased_rest(tmp_path: Path) -> None:
    Bench.create(tmp_path, "nucleo-f103rb")  # FPEC: half-word programming
    data = bytes(range(256))[::-1]
    with Bench.open(tmp_path) as bench:
        bench.set("power-loss-during", "program@65")
        with pytest.raises(PowerLost, match="0x08000080"):
            bench.chip.rom_program(0x0800_0000, data)
        assert not bench.board.powered
    with Bench.open(tmp_path) as bench:  # the state persists like any other
        flash = bench.chip.flash_banks[0]
        assert flash[:128] == data[:128]
        assert flash[128:130] not in (data[128:130], b"\xff\xff")  # caught half-way
        assert flash[130:256] == b"\xff" * 126
        assert bench.board.power_loss == ""  # fires once
        bench.power_cycle()
        assert bench.board.powered


def test_power_loss_while_erasing_a_sector_leaves_part_of_it_old(tmp_path: Path) -> None:
    Bench.create(tmp_path, "nucleo-f401re")
    with Bench.open(tmp_path) as bench:
        bench.chip.rom_program(0x0800_0000, b"\x00" * 0x4000)
        bench.set("power-loss-during", "erase@0.25")
        with pytest.raises(PowerLost):
            bench.chip.rom_erase([0])
        flash = bench.chip.flash_banks[0]
        assert flash[:0x1000] == b"\xff" * 0x1000
        assert flash[0x1004:0x4000] == b"\x00" * (0x4000 - 0x1004)


def test_power_loss_on_an_ecc_part_corrupts_the_unit(tmp_path: Path) -> None:
    Bench.create(tmp_path, "nucleo-l476rg")
    with Bench.open(tmp_path) as bench:
        bench.set("power-loss-during", "program")
        with pytest.raises(PowerLost):
            bench.chip.rom_program(0x0800_0000, b"\x11" * 64)
        assert bench.chip.banks[0].corrupt == {0}  # the first 8-byte unit, ECC now wrong


def test_power_loss_value_is_checked(tmp_path: Path) -> None:
    Bench.create(tmp_path, "nucleo-f401re")
    with Bench.open(tmp_path) as bench, pytest.raises(UsageError, match="erase\\[@FRACTION\\]"):
        bench.set("power-loss-during", "write@2")
