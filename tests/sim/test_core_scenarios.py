"""The bench's firmware scenarios are real programs: the simulated core runs them after reset and
their register writes are what silences the debug port."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_core_programs import DBGKEY, DEMCR, DHCSR, S_LOCKUP, VC_CORERESET, Debugger

from stflash.chips.lookup import find_chip
from stflash.sim.bench import Bench, scenario_firmware
from stflash.sim.firmware import CODE, EFFECTS
from stflash.sim.scenarios import get_scenario

from sim_helpers import make
from tooling import require_tool as _tool

MS = 1_000_000
SOURCE = Path(__file__).resolve().parents[2] / "src" / "stflash" / "sim" / "firmware" / "scenario.s"


def test_committed_code_is_what_scenario_s_assembles_to(tmp_path: Path) -> None:
    tools = {name: _tool(f"arm-none-eabi-{name}") for name in ("as", "ld", "objcopy")}
    obj, elf, out = tmp_path / "s.o", tmp_path / "s.elf", tmp_path / "s.bin"
    subprocess.run([tools["as"], "-mcpu=cortex-m0", "-mthumb", str(SOURCE), "-o", str(obj)], check=True)
    subprocess.run([tools["ld"], "-Ttext=0x08000040", "--entry=0", "-o", str(elf), str(obj)], check=True)
    subprocess.run([tools["objcopy"], "-O", "binary", str(elf), str(out)], check=True)
    assert out.read_bytes() == CODE


@pytest.mark.parametrize("scenario, part", [
    ("swd-disabled", "stm32f401re"), ("swd-disabled", "stm32f103rb"), ("swd-disabled", "stm32g071rb"),
    ("swd-disabled", "stm32l053r8"), ("swd-disabled", "stm32h743zi"), ("swd-disabled", "stm32f767zi"),
    ("low-power", "stm32l476rg"), ("low-power", "stm32g071rb"), ("low-power", "stm32f030r8"),
    ("low-power", "stm32h743zi"), ("h7-smps-lockup", "stm32h743zi"), ("h7-smps-lockup", "stm32h755zi"),
])
def test_the_effect_comes_when_the_firmware_gets_there(scenario: str, part: str) -> None:
    chip = make(part)
    assert chip.rom_program(chip.chip.flash_base, scenario_firmware(chip.chip, scenario)).ok
    chip.reset("power")
    after = get_scenario(scenario).effect_after_ns
    effect = EFFECTS[scenario]
    chip.clock.advance(after - after // 20)
    chip.sync_cores()
    assert not effect(chip)
    chip.clock.advance(after // 10)
    chip.sync_cores()
    assert effect(chip)
    chip.reset("system")  # the peripherals and the core start over
    assert not effect(chip)


def test_swd_disabled_takes_the_pins(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "nucleo-f401re", scenarios=["swd-disabled"])
    with Bench.open(tmp_path / "b") as bench:
        bench.clock.advance(6 * MS)
        assert bench.firmware_effect("swd-disabled")
        assert bench.chip.read32(0x4002_0000) & (0xF << 26) == 0  # PA13/PA14 inputs
    Bench.create(tmp_path / "f1", "stm32f103rb", scenarios=["swd-disabled"])
    with Bench.open(tmp_path / "f1") as bench:
        bench.clock.advance(6 * MS)
        assert bench.firmware_effect("swd-disabled")
        assert (bench.chip.read32(0x4001_0004) >> 24) & 7 == 4  # AFIO_MAPR.SWJ_CFG: SW-DP off


def test_low_power_stops_the_core_unless_the_debugger_keeps_debug_in_stop(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "nucleo-l476rg", scenarios=["low-power"])
    with Bench.open(tmp_path / "b") as bench:
        bench.clock.advance(11 * MS)
        assert bench.firmware_effect("low-power")
        core = bench.chip.cores[0]
        assert core is not None and core.sleeping and core.debug.scr & 4
        bench.press_reset()
        bench.chip.write32(0xE004_2004, 0x7)  # DBG_SLEEP | DBG_STOP | DBG_STANDBY, as OpenOCD sets
        bench.clock.advance(11 * MS)
        # the firmware clears DBGMCU_CR itself: silent again; a debugger setting it afterwards wins
        assert bench.firmware_effect("low-power")
        bench.chip.write32(0xE004_2004, 0x7)
        assert not bench.firmware_effect("low-power")


def test_h7_wrong_supply_is_latched_until_a_power_on_reset(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "nucleo-h743zi", scenarios=["h7-smps-lockup"])
    with Bench.open(tmp_path / "b") as bench:
        dbg = Debugger(bench.chip)
        bench.clock.advance(3 * MS)
        assert bench.firmware_effect("h7-smps-lockup")
        assert dbg.dhcsr() & S_LOCKUP
        assert bench.chip.read32(0x5802_480C) & 0x3F == 0x2  # PWR_CR3: LDOEN alone
        # a reset, even with the reset vector catch armed, does not undo it: the supply setting
        # holds until a power-on reset, and the chip runs nothing meanwhile
        dbg.write(DHCSR, DBGKEY | 1)
        dbg.write(DEMCR, VC_CORERESET)
        bench.press_reset()
        bench.clock.advance(10 * MS)
        assert bench.supply_locked() and bench.chip.held_in_reset
        # powered up with NRST held low: the power-on reset clears it and the firmware waits
        for name, value in (("power", "0"), ("nrst", "0"), ("power", "1")):
            bench.set(name, value)
        assert not bench.supply_locked()
        dbg.write(DHCSR, DBGKEY | 1)  # the power-on reset cleared the debug registers: arm again
        dbg.write(DEMCR, VC_CORERESET)
        bench.set("nrst", "1")
        bench.clock.advance(10 * MS)
        assert dbg.halted() and not bench.supply_locked()  # stopped at the reset vector in time
        bench.set("power", "0")
        bench.set("power", "1")  # an ordinary power cycle: the firmware runs and latches it again
        bench.clock.advance(3 * MS)
        assert bench.supply_locked()


def test_every_firmware_scenario_has_a_program_for_each_family() -> None:
    for name, part in (("swd-disabled", "stm32wb55rg"), ("swd-disabled", "stm32g474re"),
                       ("swd-disabled", "stm32l152re"), ("swd-disabled", "stm32f303re")):
        image = scenario_firmware(find_chip(part), name)
        assert image[0x40 : 0x40 + len(CODE)] == CODE and name.encode() in image
