"""Connect modes of stflash's ST-LINK link against the bench's field scenarios: firmware that turns
SWD off or sleeps in Stop (a normal connect fails with a diagnosis, under reset gets in with the
core stopped at its reset vector), an H7 supply lock-up (silent even under reset until the board
is powered up with NRST held), hot-plug leaving a running core running, a dual-core H7 whose M7
does not boot (AP0 dead, AP3 works), and read-out protection level 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_stlink_access import COUNTER, flash_counter_program
from test_stlink_transport import advance, make_bench, no_wall_sleep, open_probe  # noqa: F401

from stflash.errors import UsageError
from stflash.flash.debug import PC
from stflash.links.stlink import ConnectFailed, identify
from stflash.links.stlink.probe import StlinkProbe
from stflash.sim.bench import Bench


def reset_vector(directory: Path) -> int:
    with Bench.open(directory) as bench:
        base = bench.chip.chip.flash_base
        return int.from_bytes(bench.chip.rom_read(base + 4, 4), "little") & ~1


def _under_reset_gets_in(probe: StlinkProbe, d: Path, chip: str) -> None:
    access = probe.connect(mode="under-reset")
    assert probe.observations["halt"] == "at the reset vector"
    assert access.is_halted() and access.read_core_register(PC) == reset_vector(d)
    with Bench.open(d) as bench:
        assert not bench.board.nrst_held  # released
    info = identify(probe)
    assert info.chip is not None and info.chip.name == chip
    advance(d, 0.03)
    assert access.is_halted()  # the firmware never ran: the port stays up


def test_normal_fails_with_a_diagnosis_under_reset_gets_in(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-f401re", "V2-1", "swd-disabled")
    advance(d, 0.02)  # the firmware has run long enough to do its damage
    with open_probe(d) as probe:
        with pytest.raises(ConnectFailed) as err:
            probe.connect(mode="normal")
        assert err.value.exit_code == 6
        assert "no answer from the target's debug port" in err.value.message and "3.30 V" in err.value.message
        assert "--connect-under-reset" in (err.value.hint or "")
        assert err.value.observations["enter"] == "0x09 GET_IDCODE_ERROR"
        _under_reset_gets_in(probe, d, "STM32F401xE")


@pytest.mark.parametrize("part, kind, chip", [
    ("nucleo-l476rg", "V2-1", "STM32L476xG"),
    ("nucleo-h743zi", "V3", "STM32H743xI"),
])
def test_low_power_dp_answers_core_waits_under_reset_gets_in(tmp_path: Path, part: str, kind: str, chip: str) -> None:
    """Stop with debug in Stop off: the SW-DP answers, the core's bus never completes (WAIT)."""
    d = make_bench(tmp_path, part, kind, "low-power")
    advance(d, 0.02)
    with open_probe(d) as probe:
        with pytest.raises(ConnectFailed) as err:
            probe.connect(mode="normal")
        obs = err.value.observations
        assert err.value.exit_code == 6
        assert obs["enter"] == "ok" and obs["dp_idcode"] and obs["debug_power"] == "ok"
        assert "the debug port answers" in err.value.message and "SWD_AP_WAIT" in err.value.message
        assert "low-power" in err.value.message and "supply" not in err.value.message
        assert "chip_id_apb" not in obs  # on the H7 the debug APB is stopped as well
        assert "--connect-under-reset" in (err.value.hint or "")
        _under_reset_gets_in(probe, d, chip)


def test_h7_supply_lockup_is_silent_under_reset_until_powered_up_in_reset(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-h743zi", "V3", "h7-smps-lockup")
    advance(d, 0.02)
    with open_probe(d) as probe:
        with pytest.raises(ConnectFailed) as err:
            probe.connect(mode="normal")
        assert "no answer from the target's debug port" in err.value.message
        assert err.value.observations["enter"] == "0x09 GET_IDCODE_ERROR"
        with pytest.raises(ConnectFailed) as err:
            probe.connect(mode="under-reset")  # latched: NRST does not help
        assert "even with NRST held low" in err.value.message and "3.30 V" in err.value.message
        assert err.value.observations["enter"] == "0x09 GET_IDCODE_ERROR"
        with Bench.open(d) as bench:  # the reset button held while the board is replugged
            for name, value in (("power", "0"), ("nrst", "0"), ("power", "1")):
                bench.set(name, value)
        advance(d, 0.02)
        _under_reset_gets_in(probe, d, "STM32H743xI")


def test_hot_plug_leaves_a_running_core_running(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-f401re", "V2-1")
    flash_counter_program(d)
    advance(d, 0.001)
    with Bench.open(d) as bench:
        resets = bench.chip.reset_count
    with open_probe(d) as probe:
        access = probe.connect(mode="hot-plug")
        assert probe.observations["core_state"] == "running" and not access.is_halted()
        first = access.read32(COUNTER)
        access.wait(0.001)
        second = access.read32(COUNTER)
        assert second > first > 0  # it kept counting while attached
        info = identify(probe)
        assert info.chip is not None and info.observations["core_state"] == "running"
        with Bench.open(d) as bench:
            assert bench.chip.reset_count == resets  # attached without a reset
    # a normal connect, by contrast, stops it
    probe = open_probe(d)
    try:
        access = probe.connect(mode="normal")
        frozen = access.read32(COUNTER)
        access.wait(0.001)
        assert access.is_halted() and access.read32(COUNTER) == frozen
    finally:
        probe.close(resume=True)
    with open_probe(d) as probe:  # close(resume=True) let it run on
        access = probe.connect(mode="hot-plug")
        assert not access.is_halted() and access.read32(COUNTER) > frozen


def test_m7_boot_disabled_ap0_dead_ap3_works(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-h755zi-q", "V3", "m7-boot-disabled")
    with open_probe(d) as probe:
        with pytest.raises(ConnectFailed) as err:
            probe.connect()
        assert "access port 3" in err.value.message and "BCM7" in err.value.message
        assert "--ap 3" in (err.value.hint or "")
        obs = err.value.observations
        assert obs["dp_idcode"] == "0x6ba02477" and list(obs["other_core_aps"]) == ["3"]  # type: ignore[call-overload]
        assert obs["aps"]["3"] == "0x24770011"  # type: ignore[index]

        access = probe.connect(ap=3)
        info = identify(probe)
        assert info.chip is not None and info.chip.name == "STM32H745xI" and info.dev_id == 0x450
        assert info.observations["core"] == "cortex-m4"
        assert access.read_block(0x0800_0000, 16) == b"\xff" * 16  # the flash, through the M4's bus


def test_rdp2_even_under_reset_says_what_it_may_be(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-f401re", "V2-1", "rdp2")
    with open_probe(d) as probe, pytest.raises(ConnectFailed) as err:
        probe.connect(mode="under-reset")
    assert "even with NRST held low" in err.value.message
    assert "read-out protection level 2" in (err.value.hint or "")
    with Bench.open(d) as bench:
        assert not bench.board.nrst_held  # NRST released although the connection failed


def test_bad_connect_arguments(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-f401re")
    with open_probe(d) as probe:
        for kwargs in ({"mode": "sideways"}, {"frequency": 0}, {"ap": 256}):
            with pytest.raises(UsageError):
                probe.connect(**kwargs)  # type: ignore[arg-type]
