"""What the simulated ST-LINK reports in the bench's field scenarios: status codes when the debug
port is silent, read protection, connecting under reset, NRST, and a dual-core H7 whose M7 does
not boot (reached through AP3)."""

from __future__ import annotations

from pathlib import Path

from test_stlink_usb import OK, Probe, bench_probe

from stflash.sim.bench import Bench

DP = 0xFFFF


def _advance(tmp_path: Path, ns: int) -> None:
    with Bench.open(tmp_path / "bench") as bench:
        bench.clock.advance(ns)


def _idle(probe: Probe) -> None:
    probe.cmd(0xF3, 0x07)


def test_rdp2_debug_port_never_answers(tmp_path: Path) -> None:
    with bench_probe(tmp_path, scenarios=["rdp2"]) as probe:
        _idle(probe)
        assert probe.enter_swd() == 0x09
        assert probe.dap_read(DP, 0)[0] == 0x16  # SWD_DP_ERROR: no ACK at all
        assert probe.read(0x2000_0000, 4) == bytes(4)
        assert probe.status2()[0] == 0x16


def test_rdp1_flash_faults_ram_and_registers_answer(tmp_path: Path) -> None:
    with bench_probe(tmp_path, scenarios=["rdp1"]) as probe:
        probe.connect()
        assert probe.read(0x0800_0000, 16) == bytes(16)
        assert probe.status2() == (0x11, 0x0800_0000)
        assert probe.debug_read(0x0800_0100)[0] == 0x11
        probe.write(0x2000_0000, b"\x01\x02\x03\x04")
        assert probe.read32(0x2000_0000) == 0x0403_0201
        status, optcr = probe.debug_read(0x4002_3C14)  # FLASH_OPTCR still shows the level
        assert status == OK and (optcr >> 8) & 0xFF == 0xBB


def test_target_power_lost_mid_session(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        assert probe.read32(0xE004_2000) == 0x1000_0433
        with Bench.open(tmp_path / "bench") as bench:
            bench.set("power", "0")
        assert probe.debug_read(0xE004_2000) == (0x16, 0)
        assert probe.dap_read(DP, 0x4)[0] == 0x16


def test_firmware_silences_the_port_but_connect_under_reset_gets_in(tmp_path: Path) -> None:
    """swd-disabled; low-power (the DP answers, memory WAITs) and h7-smps-lockup (latched until a
    power-on reset) are in test_scenario_fidelity.py."""
    with bench_probe(tmp_path, "nucleo-f401re", scenarios=["swd-disabled"]) as probe:
        _advance(tmp_path, 20_000_000)  # long enough after reset for the firmware to act
        _idle(probe)
        assert probe.enter_swd() == 0x09
        assert probe.cmd(0xF2, 0x3C, 0x00, n=2)[0] == OK  # DRIVE_NRST low before ENTER
        assert probe.enter_swd() == OK
        assert probe.dap_read(DP, 0)[0] == OK
        assert probe.debug_read(0xE000_EDF0)[0] == OK  # the core's debug registers answer
        assert probe.cmd(0xF2, 0x3C, 0x01, n=2)[0] == OK  # release: the firmware starts again ...
        _advance(tmp_path, 20_000_000)
        assert probe.dap_read(DP, 0)[0] == 0x16  # ... and the port goes silent once more


def test_h7_under_reset_system_bus_faults_but_ppb_and_apb_d_answer(tmp_path: Path) -> None:
    with bench_probe(tmp_path, "nucleo-h743zi") as probe:
        _idle(probe)
        probe.cmd(0xF2, 0x3C, 0x00, n=2)
        assert probe.enter_swd() == OK
        assert probe.debug_read(0x5C00_1000)[0] == 0x11  # DBGMCU via AP0: AXI held in reset
        assert probe.debug_read(0xE000_ED00) == (OK, 0x411F_C272)  # CPUID on the core's PPB
        assert probe.init_ap(2) == OK
        assert probe.read32(0xE00E_1000, ap=2) & 0xFFF == 0x450  # DBGMCU through the APB-D port
        probe.cmd(0xF2, 0x3C, 0x01, n=2)
        assert probe.debug_read(0x5C00_1000)[1] & 0xFFF == 0x450


def test_drive_nrst_holds_and_releasing_resets_the_chip(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        with Bench.open(tmp_path / "bench") as bench:
            resets = bench.chip.reset_count
        probe.cmd(0xF2, 0x3C, 0x00, n=2)
        with Bench.open(tmp_path / "bench") as bench:
            assert bench.board.nrst_held and bench.chip.reset_count == resets
        probe.cmd(0xF2, 0x3C, 0x01, n=2)
        with Bench.open(tmp_path / "bench") as bench:
            assert not bench.board.nrst_held and bench.chip.reset_count == resets + 1
        assert probe.cmd(0xF2, 0x3C, 0x02, n=2)[0] == OK  # PULSE: assert and release
        with Bench.open(tmp_path / "bench") as bench:
            assert not bench.board.nrst_held and bench.chip.reset_count == resets + 2


def test_resetsys_resets_the_chip(tmp_path: Path) -> None:
    with bench_probe(tmp_path) as probe:
        probe.connect()
        with Bench.open(tmp_path / "bench") as bench:
            resets = bench.chip.reset_count
        assert probe.cmd(0xF2, 0x32, n=2)[0] == OK
        with Bench.open(tmp_path / "bench") as bench:
            assert bench.chip.reset_count == resets + 1


def test_h755_with_bcm7_clear_ap0_waits_ap3_works(tmp_path: Path) -> None:
    with bench_probe(tmp_path, "nucleo-h755zi-q", probe="V3", scenarios=["m7-boot-disabled"]) as probe:
        probe.connect()
        assert probe.dap_read(0, 0xFC) == (OK, 0x8477_0001)  # AP0 itself still identifies
        assert probe.debug_read(0x5C00_1000)[0] == 0x10  # SWD_AP_WAIT: the M7's bus never answers
        assert probe.read(0x0800_0000, 8) == bytes(8)
        assert probe.status2() == (0x10, 0x0800_0000)
        assert probe.read(0x0800_0000, 8, ap=3) == bytes(8)  # AP3 before INIT_AP: refused
        assert probe.status2()[0] == 0x1D
        assert probe.init_ap(3) == OK
        assert probe.read32(0x5C00_1000, ap=3) & 0xFFF == 0x450  # DBGMCU_IDCODE through the M4
        assert probe.status2() == (OK, 0)
        assert probe.read(0x0800_0000, 8, ap=3) == bytes([0xFF] * 8)  # the flash, through the M4's bus
        assert probe.dap_write(3, 0x04, 0x5C00_1000) == OK  # raw DAP access through AP3 works too
        assert probe.dap_read(3, 0x0C)[1] & 0xFFF == 0x450


def test_h755_both_cores_answer_on_their_aps(tmp_path: Path) -> None:
    with bench_probe(tmp_path, "nucleo-h755zi-q", probe="V3") as probe:
        probe.connect()
        assert probe.init_ap(3) == OK
        assert probe.read32(0xE000_ED00) == 0x411F_C272
        assert probe.read32(0xE000_ED00, ap=3) == 0x410F_C241


def test_connect_under_reset_with_vector_catch_keeps_the_port_alive(tmp_path: Path) -> None:
    """The recovery users need for swd-disabled firmware: NRST low, ENTER, halt with
    DEMCR.VC_CORERESET, release NRST: the core stops at the reset vector before the firmware takes
    the pins, so the port stays up and the flash can be erased."""
    with bench_probe(tmp_path, scenarios=["swd-disabled"]) as probe:
        _advance(tmp_path, 20_000_000)
        _idle(probe)
        assert probe.enter_swd() == 0x09
        probe.cmd(0xF2, 0x3C, 0x00, n=2)
        assert probe.enter_swd() == OK
        assert probe.debug_write(0xE000_EDFC, 0x0100_0001) == OK  # DEMCR: TRCENA | VC_CORERESET
        assert probe.debug_write(0xE000_EDF0, 0xA05F_0003) == OK  # DHCSR: halt
        probe.cmd(0xF2, 0x3C, 0x01, n=2)
        _advance(tmp_path, 20_000_000)
        status, dhcsr = probe.debug_read(0xE000_EDF0)
        assert status == OK and dhcsr & (1 << 17)  # halted, the debug port still answers
        r = probe.cmd(0xF2, 0x33, 15, n=8)
        with Bench.open(tmp_path / "bench") as bench:
            reset_vector = int.from_bytes(bench.chip.flash_banks[0][4:8], "little") & ~1
        assert r[0] == OK and int.from_bytes(r[4:8], "little") == reset_vector
