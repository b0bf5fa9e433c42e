"""Every verb explains itself with an example; --json keeps stdout to one document."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from stflash.cli.main import cli


def all_commands() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name, cmd in group.commands.items():
            out.append((*prefix, name))
            if isinstance(cmd, click.Group):
                walk(cmd, (*prefix, name))

    walk(cli, ())
    return out


VERBS = {"list", "probe", "write", "read", "erase", "verify", "reset", "ob", "recover", "doctor", "convert",
         "info", "sim"}


def test_all_issue_verbs_exist() -> None:
    assert set(cli.commands) >= VERBS
    assert {"show", "set"} <= set(cli.commands["ob"].commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", all_commands(), ids=" ".join)
def test_help_has_an_example(run_cli, path: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    r = run_cli(*path, "--help")
    assert r.code == 0
    assert "Example" in r.out, f"stflash {' '.join(path)} --help shows no example"
    assert "stflash " in r.out.split("Example", 1)[1]


@pytest.mark.parametrize("verb", ["write", "read", "erase", "verify", "probe", "reset"])
def test_device_verbs_take_connect(run_cli, verb: str) -> None:  # type: ignore[no-untyped-def]
    assert "-c, --connect" in run_cli(verb, "--help").out


def test_version_and_help_run_as_a_program() -> None:
    out = subprocess.run([sys.executable, "-m", "stflash", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "stflash" in out.stdout
    # the heavy libraries, and stflash's own device and chip layers, are not imported to print help
    heavy = ("usb", "serial", "intelhex", "elftools", "stflash.session", "stflash.discovery", "stflash.chips",
             "stflash.links", "stflash.sim", "stflash.image")
    code = ("import sys; from stflash.cli.main import main; main(['--help']); "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stderr.strip().endswith("[]"), out.stderr


def test_json_list_is_one_document(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from stflash import discovery

    monkeypatch.setattr(discovery, "list_usb_devices", lambda: [])
    monkeypatch.setattr(discovery, "list_serial_ports", lambda: [])
    r = run_cli("--json", "list")
    assert r.code == 0
    assert json.loads(r.out) == {"devices": []}


def test_udev_rules_cover_probes_and_dfu(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("udev-rules")
    assert 'ATTRS{idProduct}=="df11"' in r.out and 'ATTRS{idProduct}=="374b"' in r.out
