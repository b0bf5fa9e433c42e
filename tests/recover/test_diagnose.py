"""The reading of a connection's observations: which causes come first for what was seen."""

from __future__ import annotations

from stflash.recover.diagnose import diagnose

PROBE = {"probe": "ST-LINK/V2-1", "firmware": "V2J45M31", "serial": "X", "target_voltage": 3.3}


def codes(obs: dict[str, object]) -> list[str]:
    return [c.code for c in diagnose(obs).causes]


def test_silent_debug_port_in_a_normal_connect_puts_firmware_first() -> None:
    obs = {**PROBE, "connect_mode": "normal", "enter": "0x09 GET_IDCODE_ERROR", "dp_idcode": None}
    assert codes(obs) == ["firmware-blocks-debug", "wiring", "h7-supply-lockup", "rdp2"]
    said = diagnose(obs)
    assert ("debug port", "no answer: 0x09 GET_IDCODE_ERROR (normal connect)") in said.levels


def test_silent_even_under_reset_puts_the_latched_lockup_first() -> None:
    obs = {**PROBE, "connect_mode": "under-reset", "enter": "0x09 GET_IDCODE_ERROR"}
    assert codes(obs) == ["h7-supply-lockup", "wiring", "rdp2"]
    assert "--wait" in diagnose(obs).causes[0].command


def test_no_supply_says_nothing_else() -> None:
    assert codes({**PROBE, "target_voltage": 0.0, "enter": "0x09 GET_IDCODE_ERROR"}) == ["not-powered"]


def test_a_low_supply_comes_before_the_rest() -> None:
    obs = {**PROBE, "target_voltage": 1.2, "connect_mode": "normal", "enter": "0x09 GET_IDCODE_ERROR"}
    assert codes(obs)[0] == "low-supply"


def test_debug_port_alive_core_silent_is_a_sleeping_chip() -> None:
    obs = {**PROBE, "connect_mode": "normal", "enter": "ok", "dp_idcode": "0x2ba01477", "debug_power": "ok",
           "ap": 0, "cpuid_error": "the target kept answering WAIT"}
    assert codes(obs) == ["low-power", "core-held"]
    assert "chipid 0x0000" in diagnose(obs).causes[0].what


def test_another_core_answering_is_a_gated_core() -> None:
    obs = {**PROBE, "connect_mode": "normal", "enter": "ok", "dp_idcode": "0x6ba02477", "ap": 0,
           "cpuid_error": "WAIT", "other_core_aps": {"3": "cortex-m4 (CPUID 0x410fc241)"}}
    said = diagnose(obs)
    assert said.code == "core-gated" and "BCM7=0" in said.causes[0].what and "--ap 3" in said.causes[0].command


def test_chip_id_zero_and_unknown_dev_id() -> None:
    base = {**PROBE, "connect_mode": "normal", "enter": "ok", "dp_idcode": "0x2ba01477", "cpuid": "0x410fc241",
            "core": "cortex-m4"}
    assert codes({**base, "chip_id_raw": "0x00000000", "chip_id_address": "0xe0042000"})[0] == "low-power"
    assert codes({**base, "chip_id_raw": "0x10000999", "dev_id": "0x999", "chip": None}) == ["unknown-chip"]


def test_identified_chips_by_protection_level() -> None:
    ok = {**PROBE, "dp_idcode": "0x2ba01477", "cpuid": "0x410fc241", "chip": "STM32F401xE"}
    assert diagnose(ok, rdp_level=0).causes == []
    assert diagnose(ok, rdp_level=1).code == "read-protected"
    assert diagnose({**ok, "rdp_inferred": 1}).code == "read-protected"
    assert diagnose(ok, rdp_level=2).code == "rdp2"
