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


def test_the_guard_survives_a_change_of_bank_layout(tmp_path: Path) -> None:
    """The layout option (nDBANK on an F767) rebuilds the banks; an armed failure still fires."""
    Bench.create(tmp_path, "nucleo-f767zi")
    with Bench.open(tmp_path) as bench:
        bench.chip.set_option("nDBANK", 0)
        bench.set("power-loss-during", "program")
        with pytest.raises(PowerLost):
            bench.chip.rom_program(0x0800_0000, b"\x11" * 16)


def test_the_st_link_stays_on_the_bus_when_the_target_dies_under_it(tmp_path: Path) -> None:
    """A supply failure while the probe programs the flash is an SWD error in the probe's status,
    not a probe that vanished (the ST-LINK is powered by its own USB cable)."""
    from test_stlink_usb import OK, bench_probe

    with bench_probe(tmp_path, "stm32f103rb") as probe:
        probe.connect()
        probe.write(0x4002_2004, (0x4567_0123).to_bytes(4, "little"))  # FLASH_KEYR, the two keys
        probe.write(0x4002_2004, (0xCDEF_89AB).to_bytes(4, "little"))
        probe.write(0x4002_2010, (1).to_bytes(4, "little"))  # CR.PG
        with Bench.open(tmp_path / "bench") as bench:
            bench.set("power-loss-during", "program")
        probe.write(0x0800_0000, b"\x34\x12", width=2)
        assert probe.status2()[0] != OK
        with Bench.open(tmp_path / "bench") as bench:
            assert not bench.board.powered
        probe.write(0x2000_0000, b"\x00" * 4)  # the probe still answers; the target does not
        assert probe.status2()[0] != OK
