"""The core on a bench: a firmware scenario's effect needs the firmware to have really run, and the
core (registers, run state, RAM) is part of the state a bench keeps between processes."""

from __future__ import annotations

from pathlib import Path

from test_core_programs import (
    C_DEBUGEN,
    DBGKEY,
    DEMCR,
    DFSR,
    DFSR_VCATCH,
    DHCSR,
    PC,
    PROGRAMS,
    R0,
    S_HALT,
    VC_CORERESET,
    Debugger,
)

from stflash.sim.bench import Bench

MS = 1_000_000


def test_firmware_effect_needs_the_firmware_to_have_run(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "nucleo-f401re", scenarios=["swd-disabled"])
    with Bench.open(tmp_path / "b") as bench:
        dbg = Debugger(bench.chip)
        # connect under reset: debug on, catch the reset vector, reset
        dbg.write(DHCSR, DBGKEY | C_DEBUGEN)
        dbg.write(DEMCR, VC_CORERESET)
        bench.press_reset()
        assert dbg.halted() and dbg.read(DFSR) & DFSR_VCATCH
        bench.clock.advance(20 * MS)
        assert not bench.firmware_effect("swd-disabled")  # halted at the reset vector: nothing ran
    with Bench.open(tmp_path / "b") as bench:  # another process: still halted, still no effect
        dbg = Debugger(bench.chip)
        assert dbg.halted() and not bench.firmware_effect("swd-disabled")
        dbg.write(DEMCR, 0)
        dbg.write(DHCSR, DBGKEY)  # debug off: the core leaves the halt and the firmware starts
        bench.clock.advance(4 * MS)
        assert not bench.firmware_effect("swd-disabled")
    with Bench.open(tmp_path / "b") as bench:
        bench.clock.advance(2 * MS)
        assert bench.firmware_effect("swd-disabled")  # 6 ms of firmware: PA13/PA14 are inputs now
        assert bench.chip.read32(0x4002_0000) & (0xF << 26) == 0  # GPIOA_MODER


def test_a_halted_core_its_registers_and_ram_survive_between_processes(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "nucleo-f401re")
    with Bench.open(tmp_path / "b") as bench:
        dbg = Debugger(bench.chip)
        dbg.halt()
        dbg.load(PROGRAMS["count"])
        dbg.set_reg(PC, 0x2000_0000)
        dbg.set_reg(1, 0x2000_1000)
        dbg.set_reg(16, 0x0100_0000)
        dbg.set_reg(13, 0x2000_8000)
    with Bench.open(tmp_path / "b") as bench:
        dbg = Debugger(bench.chip)
        assert dbg.dhcsr() & S_HALT and dbg.reg(PC) == 0x2000_0000
        assert bench.chip.read_block(0x2000_0000, 16) == PROGRAMS["count"].code
        dbg.write(DHCSR, DBGKEY | C_DEBUGEN)
    with Bench.open(tmp_path / "b") as bench:
        dbg = Debugger(bench.chip)
        assert dbg.halted() and dbg.reg(R0) == 30
        assert bench.chip.read32(0x2000_1000 + 36) == 27


def test_firmware_keeps_running_between_processes(tmp_path: Path) -> None:
    Bench.create(tmp_path / "b", "nucleo-f401re")
    with Bench.open(tmp_path / "b") as bench:
        assert bench.chip.rom_program(0x0800_0000, PROGRAMS["firmware"].code).ok
        bench.power_cycle()
    with Bench.open(tmp_path / "b") as bench:
        bench.clock.advance(MS)
        bench.chip.sync_cores()
        core = bench.chip.cores[0]
        assert core is not None and core.executed_ns == MS and core.spinning
        assert bench.chip.read32(0x2000_0100) == 3


def test_the_m4_of_an_h755_with_bcm7_off_runs_on_ap3(tmp_path: Path) -> None:
    Bench.create(tmp_path / "h7", "nucleo-h755zi-q", scenarios=["m7-boot-disabled"])
    with Bench.open(tmp_path / "h7") as bench:
        m7, m4 = Debugger(bench.chip, ap=0), Debugger(bench.chip, ap=3)
        m7.write(DHCSR, DBGKEY | 3)
        assert not m7.halted()  # clock-gated: never runs, never halts
        m4.halt()
        m4.load(PROGRAMS["count"], 0x3800_0000)  # SRAM4 (D3)
        m4.call(0x3800_0000, 0x3800_4000, r1=0x3800_1000)
        m4.wait_halt()
        assert m4.reg(R0) == 30
