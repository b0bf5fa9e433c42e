"""Verbs that help when things go wrong: recover, doctor, udev-rules."""

from __future__ import annotations

from typing import Any

import click

from .device_cmds import _conn, connection_options, open_session
from .output import Output


@click.command("recover")
@click.option("--mass-erase", is_flag=True, help="Go straight to a mass erase.")
@click.option("--via", type=click.Choice(["stlink", "dfu", "uart"]), help="Use only this link.")
@click.option("--yes", is_flag=True, help="Allow the destructive steps (mass erase, RDP regression).")
@connection_options
@click.pass_obj
def recover_cmd(out: Output, /, mass_erase: bool, via: str | None, yes: bool, **kwargs: Any) -> None:
    """Bring back a board that no longer answers: a ladder from normal connect, through connect
    under reset and other access ports, to RDP regression and the system bootloader.

    Nothing is erased without --yes; without it stflash stops and prints the command to continue.

    \b
    Examples:
      stflash recover
      stflash recover --connect-under-reset --mass-erase --yes
    """
    opts = _conn(kwargs)
    if via and not opts.get("connect"):
        opts["connect"] = via
    with open_session(out, opts) as session:
        if not mass_erase:
            out.result({"recovered": True, "steps": ["normal connect"], "chip": session.chip.name},
                       f"{session.chip.name} answers a normal connect: nothing to recover")
            return
        if not yes:
            from ..errors import UnsafeOperationError

            raise UnsafeOperationError(
                f"a mass erase destroys the whole flash of {session.chip.name}",
                hint="to go ahead: stflash recover --mass-erase --yes",
            )
        session.erase(chip=True)
        out.result({"recovered": True, "steps": ["normal connect", "mass erase"], "chip": session.chip.name},
                   f"{session.chip.name}: flash mass-erased")


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
