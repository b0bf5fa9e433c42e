"""Identification through stflash's ST-LINK link, like ``st-info --probe``: probe, firmware,
voltage, DP IDCODE, core, DBGMCU chip id read where the core keeps it, flash size, the chip
table's row (single- or dual-core H7), RDP level from the option field; and the diagnosis when
it cannot be done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_stlink_transport import make_bench, no_wall_sleep, open_probe, serial_of  # noqa: F401

from stflash.errors import ProtectedError
from stflash.links.stlink import ConnectFailed, identify
from stflash.links.stlink import diagnosis as dg
from stflash.links.stlink.identify import chip_id_candidates
from stflash.sim.bench import Bench


@pytest.mark.parametrize("part, kind, chip, dev_id, kib, core, idcode_at", [
    ("nucleo-f401re", "V2-1", "STM32F401xE", 0x433, 512, "cortex-m4", "0xe0042000"),
    ("bluepill", "V2", "STM32F103x8", 0x410, 64, "cortex-m3", "0xe0042000"),
    ("nucleo-g071rb", "V2-1", "STM32G071xB", 0x460, 128, "cortex-m0+", "0x40015800"),
    ("nucleo-h743zi", "V3", "STM32H743xI", 0x450, 2048, "cortex-m7", "0x5c001000"),
    ("nucleo-h755zi-q", "V3", "STM32H745xI", 0x450, 2048, "cortex-m7", "0x5c001000"),
])
def test_identification_facts(tmp_path: Path, part: str, kind: str, chip: str, dev_id: int, kib: int, core: str,
                              idcode_at: str) -> None:
    d = make_bench(tmp_path, part, kind)
    with open_probe(d) as probe:
        probe.connect()
        info = identify(probe)
    with Bench.open(d) as bench:
        truth = bench.chip.read(bench.chip.chip.idcode_address, 4, "debug")
    assert info.link == "stlink" and info.chip is not None and info.chip.name == chip
    assert (info.dev_id, info.rev_id) == (dev_id, truth >> 16)
    assert info.flash_size == kib * 1024 and info.rdp_level == 0
    assert info.serial == serial_of(d) and info.probe is not None and probe.firmware in info.probe
    obs = info.observations
    assert obs["core"] == core and obs["chip_id_address"] == idcode_at and obs["chip_id_raw"] == f"{truth:#010x}"
    assert obs["flash_size_kib"] == kib and obs["target_voltage"] == 3.3 and obs["core_state"] == "halted"
    assert obs["rdp"]["level"] == 0 and obs["flash_read"] == "ok"  # type: ignore[index]
    assert obs["dp_idcode"] == f"{info.chip.dp_idcode:#010x}"
    json.dumps(info.as_dict())  # --json can print it


def test_h755_through_its_cortex_m4(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-h755zi-q", "V3")
    with open_probe(d) as probe:
        probe.connect(ap=3)
        info = identify(probe)
    assert info.chip is not None and info.chip.name == "STM32H745xI" and info.dev_id == 0x450
    assert info.observations["core"] == "cortex-m4" and info.observations["chip_id_ap"] == 3


def test_h7_held_in_reset_is_identified_through_the_debug_apb(tmp_path: Path) -> None:
    """NRST held low (someone presses RESET): AP0's system bus is in reset, DBGMCU at 0x5C001000
    faults, and the chip id comes from the debug APB (AP2, 0xE00E1000) instead."""
    d = make_bench(tmp_path, "nucleo-h743zi", "V3")
    with Bench.open(d) as bench:
        bench.set("nrst", "0")
    with open_probe(d) as probe:
        probe.connect(mode="hot-plug")
        info = identify(probe)
    obs = info.observations
    assert info.chip is not None and info.chip.name == "STM32H743xI"
    assert obs["chip_id_ap"] == 2 and obs["chip_id_address"] == "0xe00e1000"
    assert "0x5c001000@AP0: 0x11 SWD_AP_FAULT" in obs["chip_id_tried"]  # type: ignore[operator]
    assert info.rdp_level is None and "rdp_inferred" not in obs  # unknown, not guessed from a reset bus


@pytest.mark.parametrize("part, kind, value", [("nucleo-f401re", "V2-1", "0xbb"), ("bluepill", "V2", "0xbb")])
def test_rdp1_is_reported_and_flash_reads_are_refused_clearly(tmp_path: Path, part: str, kind: str, value: str) -> None:
    d = make_bench(tmp_path, part, kind, "rdp1")
    with open_probe(d) as probe:
        access = probe.connect()
        info = identify(probe)
        assert info.rdp_level == 1
        assert info.observations["rdp"]["level"] == 1 and info.observations["rdp"]["value"] == value  # type: ignore[index]
        assert str(info.observations["flash_read"]).startswith("refused")
        with pytest.raises(ProtectedError, match="read-out protection level 1") as err:
            access.read_block(0x0800_0000, 256)
        assert err.value.exit_code == 9 and "RDP=0xAA" in (err.value.hint or "")
        access.write_block(0x2000_0000, b"still works")  # RAM is not protected
        assert access.read_block(0x2000_0000, 11) == b"still works"


def test_no_target_power(tmp_path: Path) -> None:
    d = make_bench(tmp_path, "nucleo-f401re", "V2-1", "no-target-power")
    with open_probe(d) as probe, pytest.raises(ConnectFailed) as err:
        probe.connect()
    assert err.value.exit_code == 6
    assert "0.00 V" in err.value.message and "not powered" in err.value.message
    assert err.value.observations["target_voltage"] == 0.0
    assert err.value.observations["enter"] == "0x09 GET_IDCODE_ERROR"
    assert err.value.as_dict()["observations"] == err.value.observations
    json.dumps(err.value.as_dict())


# -- pure parts -----------------------------------------------------------------------------------------------
def test_chip_id_candidates_follow_the_core() -> None:
    assert chip_id_candidates("cortex-m0+", 0x0BC1_1477, 0)[0] == (0, 0x4001_5800)
    assert chip_id_candidates("cortex-m7", 0x6BA0_2477, 0)[0] == (0, 0x5C00_1000)
    assert (2, 0xE00E_1000) in chip_id_candidates("cortex-m7", 0x6BA0_2477, 0)
    assert chip_id_candidates("cortex-m7", 0x5BA0_2477, 0)[0] == (0, 0xE004_2000)  # an F7
    assert chip_id_candidates("cortex-m33", 0x0BE0_2477, 0)[0] == (0, 0xE004_4000)
    # the M4 of a dual-core H7 shares the H7 DP: the table puts DBGMCU at 0x5C001000 for it
    assert (3, 0x5C00_1000) in chip_id_candidates("cortex-m4", 0x6BA0_2477, 3)


def test_diagnoses_say_what_was_seen_and_what_to_try() -> None:
    zero = dg.chip_id_zero({"chip_id_address": "0xe0042000", "core": "cortex-m4", "dp_idcode": "0x2ba01477"})
    assert "0x000" in zero[0] and "0xe0042000" in zero[0] and "--connect-under-reset" in zero[1]
    unknown = dg.unknown_dev_id({"chip_id_raw": "0x10006999", "dev_id": "0x999", "rev_id": "0x1000",
                                 "chip_id_address": "0xe0042000", "core": "cortex-m4"})
    assert "0x999" in unknown[0] and "unknown device" not in unknown[0]
    low = dg.no_dp_answer({"target_voltage": 1.2, "enter": "0x09 GET_IDCODE_ERROR", "connect_mode": "normal"})
    assert "1.20 V" in low[0] and "too low" in low[0]
    unmeasured = dg.no_dp_answer({"target_voltage": None, "enter": "0x09 GET_IDCODE_ERROR"})
    assert "not measurable" in unmeasured[0]
    smps = dg.core_not_answering({"ap": 0, "dp_idcode": "0x6ba02477", "chip_id_apb": "0x20030450"}, "WAIT")
    assert "supply" in smps[0] and "--connect-under-reset" in smps[1]
