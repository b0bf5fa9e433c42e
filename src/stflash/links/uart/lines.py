"""Driving BOOT0 and NRST from a USB-serial adapter's RTS/DTR lines (or Linux GPIOs).

Two ways to say it:

* pins: ``--reset-pin dtr --boot0-pin rts`` (prefix ``!`` when an inverter sits between the line
  and the pin). On the usual TTL adapters (FT232R, CP210x, CH340, PL2303) the RTS#/DTR# pins are
  active-low: asserting the line pulls the pin to 0 V. So with direct wiring, asserting the reset
  line holds NRST low, and BOOT0 is high while its line is *de*-asserted.
* a sequence in stm32flash's ``-i`` grammar, ``ENTRY[:EXIT]``: steps separated by ``,`` (then wait
  100 ms) or ``&`` (no wait); a step is ``[-]rts``, ``[-]dtr``, ``brk`` or ``[-]N`` (Linux GPIO N);
  no prefix asserts the line, ``-`` de-asserts it; an empty step is a 100 ms pause.

Named presets cover the wirings met in the field.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import UsageError

STEP_PAUSE_S = 0.1  # what ',' waits, as in stm32flash
# NRST held low: datasheets ask for a few hundred ns past the pin's filter (the chip's own reset
# pulse is 20 us); 10 ms covers a USB adapter's control transfers and an RC on the pin
RESET_PULSE_S = 0.01
# After NRST release the ROM takes its start-up time before it listens (AN2606 "Bootloader startup
# timings": 0.06-1.6 ms on F0/F1/G0/G4/L4/WB, 17 ms F7, 54 ms H74x, 74.5 ms F401; 545 ms H7A3, 2.56 s
# an L47x without LSE). The host tries a 0x7F after EARLY_SYNC_S, and the handshake proper after
# BOOT_SETTLE_S; a character sent while the ROM still starts is lost whole.
BOOT_SETTLE_S = 0.1
EARLY_SYNC_S = 0.002


@dataclass(frozen=True)
class Step:
    """One action: ``line`` is "rts", "dtr", "brk", a GPIO number as text, or "" (pause only)."""

    line: str
    assert_: bool
    pause_after: float


@dataclass(frozen=True)
class LineSequence:
    entry: tuple[Step, ...] = ()
    exit: tuple[Step, ...] = ()
    source: str = ""
    # after ``entry``, until the ROM surely listens: our own NRST pulse leaves the wait to the link,
    # which may greet a fast ROM sooner (a user's --entry sequence keeps its own pauses)
    settle: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.entry or self.exit)

    def resets(self) -> bool:
        """Does the entry sequence pulse a line (asserted and released: NRST on any wiring we know)?
        Only then can the host restart the ROM, which keeps the rate of its first 0x7F until a reset."""
        levels: dict[str, set[bool]] = {}
        for step in self.entry:
            if step.line and step.line != "brk":
                levels.setdefault(step.line, set()).add(step.assert_)
        return any(len(seen) == 2 for seen in levels.values())


def parse_sequence(text: str) -> LineSequence:
    """Parse ``ENTRY[:EXIT]`` (stm32flash ``-i`` grammar)."""
    entry_text, sep, exit_text = text.partition(":")
    return LineSequence(_parse_steps(entry_text, text), _parse_steps(exit_text, text) if sep else (), text)


def _parse_steps(text: str, whole: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    token = ""
    for ch in text:
        if ch in ",&":
            steps.append(_step(token.strip(), STEP_PAUSE_S if ch == "," else 0.0, whole))
            token = ""
        else:
            token += ch
    if token.strip():
        steps.append(_step(token.strip(), 0.0, whole))
    return tuple(s for s in steps if s.line or s.pause_after)


def _step(token: str, pause: float, whole: str) -> Step:
    if token == "":
        return Step("", False, pause)
    negate = token.startswith("-")
    name = token[1:] if negate else token
    name = name.lower()
    if name in ("rts", "dtr", "brk") or name.isdigit():
        if name == "brk" and negate:
            return Step("", False, pause)  # stm32flash ignores -brk
        return Step(name, not negate, pause)
    raise UsageError(
        f"--entry {whole!r}: unknown step {token!r}",
        hint="steps are rts, -rts, dtr, -dtr, brk or a GPIO number, joined by ',' (100 ms) or '&'; "
        "ENTRY:EXIT, e.g. -dtr,rts,-rts:dtr,rts,-rts",
    )


def pin_sequence(reset_pin: str | None, boot0_pin: str | None) -> LineSequence:
    """Entry: BOOT0 high, NRST pulse, settle; exit: BOOT0 low, NRST pulse (the app starts)."""
    if reset_pin is None and boot0_pin is None:
        return LineSequence()
    reset = _pin("--reset-pin", reset_pin) if reset_pin else None
    boot0 = _pin("--boot0-pin", boot0_pin) if boot0_pin else None
    if reset and boot0 and reset[0] == boot0[0]:
        raise UsageError(f"--reset-pin and --boot0-pin are both on {reset[0]}: they need two lines")

    def level(pin: tuple[str, bool], high: bool, pause: float) -> Step:
        line, inverted = pin
        # direct TTL wiring: asserted line = pin low; through an inverter: asserted = pin high
        return Step(line, high if inverted else not high, pause)

    def pulse(settle: float) -> list[Step]:
        if reset is None:
            return []
        return [level(reset, False, RESET_PULSE_S), level(reset, True, settle)]

    entry = ([level(boot0, True, 0.0)] if boot0 else []) + pulse(0.0)
    exit_ = ([level(boot0, False, 0.0)] if boot0 else []) + pulse(BOOT_SETTLE_S)
    source = ",".join(f"{k}={v}" for k, v in (("reset", reset_pin), ("boot0", boot0_pin)) if v)
    return LineSequence(tuple(entry), tuple(exit_), source, BOOT_SETTLE_S if reset else 0.0)


def _pin(option: str, text: str) -> tuple[str, bool]:
    value = text.strip().lower()
    inverted = value.startswith("!")
    line = value.lstrip("!")
    if line not in ("rts", "dtr") and not line.isdigit():
        raise UsageError(f"{option} {text!r}: use rts or dtr (or a GPIO number), '!' first for an inverted line")
    return line, inverted


PRESETS: dict[str, tuple[str, str]] = {
    # name: (reset pin, boot0 pin), direct wiring to an adapter with active-low outputs
    "dtr-reset-rts-boot0": ("dtr", "rts"),  # stm32loader's default wiring; many DIY boards
    "rts-reset-dtr-boot0": ("rts", "dtr"),  # ST's suggestion for STM32CubeProgrammer users
    "dtr-reset": ("dtr", ""),  # BOOT0 jumpered high, reset by DTR
    "rts-reset": ("rts", ""),
}


def preset_sequence(name: str) -> LineSequence:
    try:
        reset, boot0 = PRESETS[name]
    except KeyError:
        raise UsageError(f"--wiring {name!r}: known wirings are {', '.join(PRESETS)}",
                         hint="or give --reset-pin/--boot0-pin, or a sequence with --entry") from None
    return pin_sequence(reset or None, boot0 or None)


class LineDriver:
    """Runs a sequence on a pyserial port; ``sleep`` is injectable so a simulated port can account
    the pauses on its own clock instead of the wall clock."""

    def __init__(self, port: Any, sleep: Callable[[float], None] = time.sleep, gpio_root: Path | None = None):
        self.port = port
        self.sleep = sleep
        self.gpio_root = gpio_root or Path("/sys/class/gpio")

    def run(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            self._apply(step)
            if step.pause_after:
                self.sleep(step.pause_after)

    def _apply(self, step: Step) -> None:
        if step.line == "rts":
            self.port.rts = step.assert_
        elif step.line == "dtr":
            self.port.dtr = step.assert_
        elif step.line == "brk":
            self.port.send_break(0.25)
        elif step.line.isdigit():
            self._gpio(int(step.line), step.assert_)

    def _gpio(self, number: int, high: bool) -> None:
        """Linux sysfs GPIO, as stm32flash drives it (export, direction, value)."""
        base = self.gpio_root
        node = base / f"gpio{number}"
        try:
            if not node.exists():
                (base / "export").write_text(str(number))
            (node / "direction").write_text("out")
            (node / "value").write_text("1" if high else "0")
        except OSError as exc:
            raise UsageError(
                f"GPIO {number}: cannot drive {node} ({exc.strerror or exc})",
                hint="sysfs GPIO needs Linux with /sys/class/gpio and write permission; "
                + ("it is absent on this kernel" if not os.path.isdir(base) else "run as a user in the gpio group"),
            ) from exc
