"""Two firmware scenarios as a client sees them through the simulated ST-LINK, DFU and UART.

* ``low-power``: Stop with debug in Stop off. The SW-DP, clocked by SWCLK, answers; every memory
  access through an access port answers WAIT (st-info then prints chipid 0x0000); connecting
  under reset works.
* ``h7-smps-lockup``: the wrong PWR_CR3 supply is latched until a power-on reset. Nothing answers,
  under reset or through the bootloader, until the board is powered up with NRST held low or
  BOOT0 high.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import serial
import usb.core
from test_stlink_usb import OK, Probe, bench_probe

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench

MS = 1_000_000
DP = 0xFFFF
GET_IDCODE_ERROR, SWD_AP_WAIT, SWD_DP_ERROR = 0x09, 0x10, 0x16
DHCSR, DEMCR = 0xE000_EDF0, 0xE000_EDFC
S_HALT = 1 << 17
PWRUP_ACKS = 0xA000_0000  # CSYSPWRUPACK | CDBGPWRUPACK
H7_APB_DBGMCU = 0xE00E_1000
PARTS = {  # board: (probe, DP IDCODE, DBGMCU_IDCODE address, DEV_ID)
    "nucleo-f401re": ("V2-1", 0x2BA0_1477, 0xE004_2000, 0x433),
    "nucleo-h743zi": ("V3", 0x6BA0_2477, 0x5C00_1000, 0x450),
}


def _bench(tmp_path: Path) -> Path:
    return tmp_path / "bench"


def _advance(tmp_path: Path, ns: int) -> None:
    with Bench.open(_bench(tmp_path)) as bench:
        bench.clock.advance(ns)


def _set(tmp_path: Path, *settings: str) -> dict[str, object]:
    """``sim set`` as a person does it, one setting after the other; returns the bench as shown."""
    with Bench.open(_bench(tmp_path)) as bench:
        for setting in settings:
            name, _, value = setting.partition("=")
            bench.set(name, value)
        return bench.describe()


def _idle(probe: Probe) -> None:
    if probe.cmd(0xF5, n=2)[0] == 0x02:  # left in debug mode by an earlier attempt
        probe.cmd(0xF2, 0x21)
    probe.cmd(0xF3, 0x07)  # DFU_EXIT: out of the mode the probe came up in


def _volts(probe: Probe) -> float:
    a0, a1 = struct.unpack("<II", probe.cmd(0xF7, n=8))
    return 2.4 * a1 / a0


def _drive_nrst(probe: Probe, low: bool) -> None:
    assert probe.cmd(0xF2, 0x3C, 0x00 if low else 0x01, n=2)[0] == OK


def _connect_under_reset(probe: Probe) -> None:
    """NRST low, ENTER, reset vector catch and a halt request, release: the core stops at its
    reset vector before the firmware runs (stlink.md 5.3/5.4)."""
    _idle(probe)
    _drive_nrst(probe, True)
    assert probe.enter_swd() == OK
    assert probe.debug_write(DEMCR, 0x0100_0001) == OK  # TRCENA | VC_CORERESET
    assert probe.debug_write(DHCSR, 0xA05F_0003) == OK  # C_DEBUGEN | C_HALT
    _drive_nrst(probe, False)


def _halted(probe: Probe) -> bool:
    status, dhcsr = probe.debug_read(DHCSR)
    assert status == OK
    return bool(dhcsr & S_HALT)


@contextmanager
def _uart(tmp_path: Path) -> Iterator[serial.SerialBase]:
    port = serial.serial_for_url(f"stflashsim://{_bench(tmp_path)}", baudrate=115200, parity="E", timeout=0.2)
    try:
        yield port
    finally:
        port.close()


def _uart_syncs(tmp_path: Path) -> bool:
    """A host's handshake: a 0x7F, and another after the read timed out (the first is lost while
    the ROM still starts: 54 ms on an H743 after power-on, AN2606)."""
    with _uart(tmp_path) as port:
        for _ in range(2):
            port.write(b"\x7f")
            if port.read(1) == b"\x79":
                return True
        return False


def _dfu_enumerated(tmp_path: Path) -> bool:
    return usb.core.find(idVendor=0x0483, idProduct=0xDF11, backend=pyusb_backend(_bench(tmp_path))) is not None


# -- low-power: Stop with debug in Stop off ------------------------------------------------------------
@pytest.mark.parametrize("part", list(PARTS))
def test_low_power_dp_answers_but_memory_accesses_wait(tmp_path: Path, part: str) -> None:
    kind, dpidr, idcode_at, dev_id = PARTS[part]
    with bench_probe(tmp_path, part, probe=kind, scenarios=["low-power"]) as probe:
        _advance(tmp_path, 20 * MS)  # the firmware entered Stop 10 ms after reset
        _idle(probe)
        assert probe.enter_swd() == OK  # the SW-DP answers: DPIDR, power-up handshake
        assert probe.dap_read(DP, 0x0) == (OK, dpidr)
        status, ctrl = probe.dap_read(DP, 0x4)
        assert status == OK and ctrl & PWRUP_ACKS == PWRUP_ACKS
        assert probe.dap_read(0, 0xFC)[0] == OK  # AP0's IDR answers (a register of the AP itself)

        assert probe.read(idcode_at, 4) == bytes(4)  # the chip id read never completes ...
        assert probe.status2() == (SWD_AP_WAIT, idcode_at)  # ... SWD_AP_WAIT at that address
        assert probe.debug_read(idcode_at) == (SWD_AP_WAIT, 0)  # st-info's chipid 0x0000
        assert probe.debug_read(DHCSR)[0] == SWD_AP_WAIT  # the core's own debug registers too
        assert probe.dap_read(DP, 0x0) == (OK, dpidr)  # the DP is still there afterwards
        if part.startswith("nucleo-h7"):
            assert probe.init_ap(2) == OK  # the debug APB port identifies ...
            assert probe.read(H7_APB_DBGMCU, 4, ap=2) == bytes(4)  # ... but its bus is stopped too
            assert probe.status2() == (SWD_AP_WAIT, H7_APB_DBGMCU)

        _connect_under_reset(probe)  # NRST wakes the chip; the core stops before the firmware runs
        _advance(tmp_path, 30 * MS)
        assert _halted(probe)
        status, value = probe.debug_read(idcode_at)
        assert status == OK and value & 0xFFF == dev_id


def test_low_power_port_waits_again_once_the_firmware_sleeps(tmp_path: Path) -> None:
    with bench_probe(tmp_path, scenarios=["low-power"]) as probe:
        _idle(probe)
        assert probe.enter_swd() == OK
        assert probe.debug_read(0xE004_2000) == (OK, 0x1000_0433)  # awake: 1 ms after reset
        _advance(tmp_path, 20 * MS)
        assert probe.debug_read(0xE004_2000)[0] == SWD_AP_WAIT
        assert probe.cmd(0xF2, 0x3C, 0x02, n=2)[0] == OK  # NRST pulse: the firmware starts over
        assert probe.debug_read(0xE004_2000) == (OK, 0x1000_0433)
        _advance(tmp_path, 20 * MS)
        assert probe.debug_read(0xE004_2000)[0] == SWD_AP_WAIT


# -- h7-smps-lockup: latched until a power-on reset --------------------------------------------------
def _locked_h7(tmp_path: Path) -> AbstractContextManager[Probe]:
    return bench_probe(tmp_path, "nucleo-h743zi", probe="V3", scenarios=["h7-smps-lockup"])


def test_h7_supply_lockup_silences_everything_until_a_power_on_reset(tmp_path: Path) -> None:
    with _locked_h7(tmp_path) as probe:
        _advance(tmp_path, 3 * MS)  # PWR_CR3 written 2 ms after power-on
        _idle(probe)
        assert _volts(probe) == pytest.approx(3.3, abs=0.05)  # the board has its supply
        assert probe.enter_swd() == GET_IDCODE_ERROR
        assert probe.dap_read(DP, 0x0)[0] == SWD_DP_ERROR
        _idle(probe)
        _drive_nrst(probe, True)  # under reset: no better
        assert probe.enter_swd() == GET_IDCODE_ERROR
        assert probe.dap_read(DP, 0x0)[0] == SWD_DP_ERROR
        _drive_nrst(probe, False)
        shown = _set(tmp_path)
        assert shown["supply_lockup"] is True and shown["active_scenarios"] == ["h7-smps-lockup"]

        shown = _set(tmp_path, "boot0=1", "nrst=0", "nrst=1")  # BOOT0 high and a reset: still nothing
        assert shown["running"] == "bootloader" and shown["supply_lockup"] is True
        assert not _dfu_enumerated(tmp_path)
        assert not _uart_syncs(tmp_path)
        _idle(probe)
        assert probe.enter_swd() == GET_IDCODE_ERROR
        _advance(tmp_path, 1000 * MS)
        assert probe.dap_read(DP, 0x0)[0] == SWD_DP_ERROR  # a second later: still latched

        shown = _set(tmp_path, "power=0")
        assert _volts(probe) < 0.05  # unpowered: the probe measures about 0 V ...
        _idle(probe)
        assert probe.enter_swd() == GET_IDCODE_ERROR  # ... and nothing answers
        shown = _set(tmp_path, "power=1")
        assert shown["supply_lockup"] is False and shown["running"] == "bootloader"
        assert _dfu_enumerated(tmp_path) and _uart_syncs(tmp_path)


def test_h7_supply_lockup_a_reset_after_the_write_does_not_undo_it(tmp_path: Path) -> None:
    with _locked_h7(tmp_path) as probe:
        assert _set(tmp_path)["supply_lockup"] is False  # just powered: the firmware waits 2 ms
        _advance(tmp_path, 3 * MS)
        _set(tmp_path, "nrst=0")  # the button, with nothing having looked at the chip since the write
        _idle(probe)
        assert probe.enter_swd() == GET_IDCODE_ERROR
        _set(tmp_path, "nrst=1")
        _idle(probe)
        assert probe.enter_swd() == GET_IDCODE_ERROR


def test_h7_supply_lockup_power_up_with_nrst_held_then_under_reset(tmp_path: Path) -> None:
    with _locked_h7(tmp_path) as probe:
        _advance(tmp_path, 3 * MS)
        _set(tmp_path, "power=0", "nrst=0", "power=1")  # the reset button held while replugging
        with Bench.open(_bench(tmp_path)) as bench:
            assert bench.board.nrst_held and not bench.board.supply_lockup
        _advance(tmp_path, 20 * MS)  # held in reset: the firmware does not run
        _connect_under_reset(probe)  # its NRST release is the button's release
        _advance(tmp_path, 30 * MS)
        assert _halted(probe)  # at the reset vector: PWR_CR3 never written
        assert probe.debug_read(0x5C00_1000)[1] & 0xFFF == 0x450
        assert probe.read32(0x5802_480C) & 0x3F != 0x02  # PWR_CR3 is not the firmware's LDO alone
        assert _set(tmp_path)["supply_lockup"] is False


def test_h7_supply_lockup_probe_keeps_nrst_low_across_the_power_cycle(tmp_path: Path) -> None:
    with _locked_h7(tmp_path) as probe:
        _advance(tmp_path, 3 * MS)
        _idle(probe)
        _drive_nrst(probe, True)  # the probe holds NRST (recover's "power cycle under reset")
        _set(tmp_path, "power=0")
        assert _volts(probe) < 0.05
        assert probe.enter_swd() == GET_IDCODE_ERROR
        _set(tmp_path, "power=1")
        assert _volts(probe) == pytest.approx(3.3, abs=0.05)
        assert probe.enter_swd() == OK  # NRST still low: the DP answers, the firmware waits
        assert probe.debug_write(DEMCR, 0x0100_0001) == OK
        assert probe.debug_write(DHCSR, 0xA05F_0003) == OK
        _drive_nrst(probe, False)
        _advance(tmp_path, 30 * MS)
        assert _halted(probe)


def test_h7_supply_lockup_boot0_power_cycle_reaches_debug_and_bootloaders(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    with _locked_h7(tmp_path) as probe:
        _advance(tmp_path, 3 * MS)
        _set(tmp_path, "boot0=1")
        r = run_cli("--json", "sim", "power-cycle", str(_bench(tmp_path)))
        assert r.code == 0, r.err
        assert r.json["supply_lockup"] is False and r.json["running"] == "bootloader"  # type: ignore[index]
        _advance(tmp_path, 50 * MS)  # the system bootloader leaves PWR_CR3 alone
        _idle(probe)
        assert probe.enter_swd() == OK  # a normal connect
        assert probe.debug_read(0x5C00_1000)[1] & 0xFFF == 0x450
        assert _uart_syncs(tmp_path)
        assert _dfu_enumerated(tmp_path)


def test_h7_supply_lockup_ends_with_the_erase_and_returns_with_the_firmware(tmp_path: Path) -> None:
    with _locked_h7(tmp_path) as probe:
        _advance(tmp_path, 3 * MS)
        _set(tmp_path, "boot0=1", "power=0", "power=1")
        with Bench.open(_bench(tmp_path)) as bench:
            assert bench.chip.rom_mass_erase().ok  # what the bootloader's mass erase does
        shown = _set(tmp_path, "boot0=0", "power=0", "power=1")
        assert shown["active_scenarios"] == []
        _advance(tmp_path, 20 * MS)
        _idle(probe)
        assert probe.enter_swd() == OK
        assert probe.debug_read(0x5C00_1000)[0] == OK
        shown = _set(tmp_path, "scenario=+h7-smps-lockup")  # written again: it comes back
        assert shown["supply_lockup"] is False
        _advance(tmp_path, 3 * MS)
        assert _set(tmp_path)["supply_lockup"] is True
        _idle(probe)
        assert probe.enter_swd() == GET_IDCODE_ERROR
