"""BOOT0/NRST driving: what the adapter's lines do for each way of saying it."""

from __future__ import annotations

import pytest

from stflash.errors import UsageError
from stflash.links.uart.lines import LineDriver, parse_sequence, pin_sequence, preset_sequence


class LinePort:
    """Records line changes and pauses, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("rts", "dtr"):
            self.events.append(f"{name}={'on' if value else 'off'}")
        super().__setattr__(name, value)

    def send_break(self, duration: float) -> None:
        self.events.append("break")


def run(steps: object) -> list[str]:
    port = LinePort()
    driver = LineDriver(port, sleep=lambda s: port.events.append(f"wait {s:g}"))
    driver.run(steps)  # type: ignore[arg-type]
    return port.events


def test_stm32flash_grammar_pauses_after_commas_only() -> None:
    seq = parse_sequence("-dtr,rts&-rts:dtr")
    assert run(seq.entry) == ["dtr=off", "wait 0.1", "rts=on", "rts=off"]
    assert run(seq.exit) == ["dtr=on"]


def test_empty_steps_are_100ms_pauses_and_brk_sends_a_break() -> None:
    seq = parse_sequence(",,,brk")
    assert run(seq.entry) == ["wait 0.1", "wait 0.1", "wait 0.1", "break"]
    assert not seq.exit


def test_unknown_step_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match="'foo'"):
        parse_sequence("rts,foo")


def test_direct_wiring_holds_reset_by_asserting_and_sets_boot0_by_releasing() -> None:
    # TTL adapters drive RTS#/DTR# low when asserted: NRST low = asserted, BOOT0 high = de-asserted
    seq = pin_sequence("dtr", "rts")
    # after the entry pulse the link waits for the ROM itself (a first 0x7F may go out sooner)
    assert run(seq.entry) == ["rts=off", "dtr=on", "wait 0.01", "dtr=off"] and seq.settle == 0.1
    assert run(seq.exit) == ["rts=on", "dtr=on", "wait 0.01", "dtr=off", "wait 0.1"]
    assert parse_sequence("-dtr,rts,-rts").settle == 0  # a user's sequence keeps its own pauses


def test_inverted_pins_flip_the_levels() -> None:
    seq = pin_sequence("!rts", "!dtr")
    assert run(seq.entry) == ["dtr=on", "rts=off", "wait 0.01", "rts=on"]


def test_presets_name_the_field_wirings() -> None:
    assert run(preset_sequence("dtr-reset-rts-boot0").entry) == run(pin_sequence("dtr", "rts").entry)
    with pytest.raises(UsageError, match="known wirings"):
        preset_sequence("ftdi")


def test_one_line_cannot_drive_both_pins() -> None:
    with pytest.raises(UsageError, match="two lines"):
        pin_sequence("rts", "!rts")


def test_gpio_steps_write_sysfs(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "gpio4").mkdir()
    (root / "export").write_text("")
    port = LinePort()
    LineDriver(port, sleep=lambda s: None, gpio_root=root).run(parse_sequence("4,-4").entry)
    assert (root / "gpio4" / "direction").read_text() == "out"
    assert (root / "gpio4" / "value").read_text() == "0"
