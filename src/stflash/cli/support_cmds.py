"""Verbs that help when things go wrong: recover, doctor, udev-rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .device_cmds import _conn, _uart_lines, connection_options
from .output import Output


@click.command("recover")
@click.option("--mass-erase", is_flag=True, help="Erase the whole flash even if the chip answers a normal connect.")
@click.option("--via", type=click.Choice(["stlink", "dfu", "uart"]), help="Use only this link.")
@click.option("--yes", is_flag=True, help="Allow the destructive steps (mass erase, RDP regression, boot bits).")
@connection_options
@click.pass_obj
def recover_cmd(out: Output, /, mass_erase: bool, via: str | None, yes: bool, **kwargs: Any) -> None:
    """Bring back a board that no longer answers: normal connect, then connect under reset (the
    probe holds NRST), a slower clock, the other core's access port (H745/H755 with BCM7=0), a
    power cycle with reset held (H7 supply lock-up), read-protection regression, or a mass erase
    through the DFU/UART system bootloader.

    Nothing is erased or changed without --yes (or a yes at the prompt on a terminal); without it
    stflash stops and prints the command that goes on. It ends with a plain connect.

    \b
    Examples:
      stflash recover
      stflash recover --yes
      stflash recover --ap 3 --yes             (dual-core H7 with the Cortex-M7 switched off)
      stflash recover --wait 120 --yes         (hold reset while you power-cycle the board)
      stflash recover --via dfu --wait 60 --yes
    """
    from ..connect import parse_connect
    from ..errors import UsageError
    from ..recover import RecoverOptions, recover

    opts = _conn(kwargs)
    if opts.pop("hot_plug", False):
        raise UsageError("recover --hot-plug: a recovery attaches normally or under reset, never without halting")
    connect = opts.pop("connect", None) or out.connect
    options = RecoverOptions(
        connect=parse_connect(connect) if connect else None, via=via,
        under_reset=bool(opts.pop("connect_under_reset", False)), ap=opts.pop("ap", None),
        frequency=opts.pop("freq", None), mass_erase=mass_erase, wait=float(opts.pop("wait", 0.0) or 0.0),
        session_options={"uart_lines": _uart_lines(opts), "voltage_range": opts.pop("vrange", None),
                         "stub": not opts.pop("no_stub", False)},
    )
    report = recover(options, consent=_consent(out, yes), say=out.info)
    out.result(report.as_dict(), report.render())


def _consent(out: Output, yes: bool) -> Callable[[str], bool]:
    """--yes, or a question on a terminal; anything else (scripts, --json) is a no."""
    import sys

    def ask(announcement: str) -> bool:
        if yes:
            return True
        if out.json_mode or not (sys.stdin.isatty() and sys.stderr.isatty()):
            return False
        return click.confirm(f"{announcement}. Go ahead?", default=False, err=True)

    return ask


@click.command("doctor")
@click.pass_obj
def doctor_cmd(out: Output) -> None:
    """Check libusb, permissions, probes, DFU devices and serial adapters; say what to fix.

    \b
    Example:
      stflash doctor
      stflash --json doctor
    """
    from ..doctor import check_all

    findings = check_all()
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "info": "info"}
    lines = []
    for f in findings:
        lines.append(f"[{marks[f.status]}] {f.check}: {f.detail}")
        if f.fix:
            lines.append(f"       fix: {f.fix}")
    out.result({"findings": [f.as_dict() for f in findings],
                "ok": all(f.status != "fail" for f in findings)}, "\n".join(lines))


@click.command("udev-rules")
@click.option("--install", is_flag=True, help="Write the rules file and reload udev (needs root).")
@click.pass_obj
def udev_rules_cmd(out: Output, /, install: bool) -> None:
    """Print (or --install) the Linux udev rules that let a normal user open probes and DFU devices.

    \b
    Example:
      stflash udev-rules | sudo tee /etc/udev/rules.d/49-stflash.rules
      sudo stflash udev-rules --install
    """
    import subprocess
    from pathlib import Path

    from ..doctor import UDEV_PATH, udev_rules
    from ..errors import DeviceBusyError

    rules = udev_rules()
    if not install:
        out.result({"path": UDEV_PATH, "rules": rules}, rules)
        return
    try:
        Path(UDEV_PATH).write_text(rules)
    except OSError as exc:
        raise DeviceBusyError(f"cannot write {UDEV_PATH}: {exc.strerror}", hint="run it with sudo") from exc
    subprocess.run(["udevadm", "control", "--reload-rules"], check=False)
    subprocess.run(["udevadm", "trigger"], check=False)
    out.result({"path": UDEV_PATH, "installed": True}, f"installed {UDEV_PATH}; replug the board")


COMMANDS = [recover_cmd, doctor_cmd, udev_rules_cmd]
