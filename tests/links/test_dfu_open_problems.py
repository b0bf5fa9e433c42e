"""A DFU bootloader this host may not open: the reason (from libusb's error and the platform) and
the fix for this system, on the command line and in the library."""

from __future__ import annotations

from pathlib import Path

import pytest
import usb.core

import stflash.links.usb as usbmod
from stflash.doctor import udev_rules
from stflash.errors import DeviceBusyError, LinkError, NoDeviceError
from stflash.links.dfu.link import _open_error
from stflash.links.usb import open_problem, udev_rule
from stflash.sim.bench import Bench

RULE = 'SUBSYSTEMS=="usb", ATTRS{idVendor}=="0483", ATTRS{idProduct}=="df11", MODE="0660", TAG+="uaccess"'


def refusing(bench, refusal: str) -> Path:  # type: ignore[no-untyped-def]
    directory = bench("nucleo-f401re")
    with Bench.open(directory) as b:
        b.set("target-usb-open", refusal)
    return directory


def on(monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    monkeypatch.setattr(usbmod, "host_platform", lambda: platform)


def test_linux_permission_names_the_udev_rule(bench, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    refusing(bench, "access")
    on(monkeypatch, "linux")
    r = run_cli("probe", "-c", "dfu")
    assert r.code == 5
    first = r.err.splitlines()[0]
    assert first.startswith("stflash: error: ") and "cannot be opened" in first
    assert "permission denied (LIBUSB_ERROR_ACCESS)" in first
    assert "sudo stflash udev-rules --install" in r.err and "replug" in r.err
    assert RULE in r.err
    assert RULE in udev_rules(), "the hint prints the same line 'stflash udev-rules' installs"


def test_a_named_serial_behind_a_locked_device_says_why(bench, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    refusing(bench, "access")
    on(monkeypatch, "linux")
    r = run_cli("probe", "-c", "dfu:1234ABCD5678")
    assert r.code == 5
    assert "no DFU bootloader with serial 1234ABCD5678 could be read" in r.err and RULE in r.err


def test_windows_driver_libusb_cannot_use(bench, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    refusing(bench, "not-supported")
    on(monkeypatch, "win32")
    r = run_cli("--json", "probe", "-c", "dfu")
    assert r.code == 5
    err = r.json["error"]
    assert "LIBUSB_ERROR_NOT_SUPPORTED" in err["message"]
    for fact in ("WinUSB", "Zadig", "STTub30", "STM32CubeProgrammer", "libusb-win32"):
        assert fact in err["hint"], fact
    assert "udev" not in err["hint"]


def test_windows_access_denied_means_another_program(bench, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    refusing(bench, "access")
    on(monkeypatch, "win32")
    r = run_cli("probe", "-c", "dfu")
    assert r.code == 5
    assert "access denied" in r.err and "another program" in r.err and "Zadig" in r.err


def test_busy(bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    refusing(bench, "busy")
    r = run_cli("probe", "-c", "dfu")
    assert r.code == 5 and "busy" in r.err and "STM32CubeProgrammer" in r.err


def test_list_marks_the_device_and_json_carries_the_fix(bench, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    directory = refusing(bench, "access")
    on(monkeypatch, "linux")
    r = run_cli("--json", "list", "--no-serial")
    dfu = next(d for d in r.json["devices"] if d["link"] == "dfu")
    assert dfu["usb_id"] == "0483:df11" and "serial" not in dfu  # unreadable without opening it
    assert "LIBUSB_ERROR_ACCESS" in dfu["problem"] and RULE in dfu["fix"]
    with Bench.open(directory) as b:
        b.set("target-usb-open", "ok")
    assert run_cli("probe", "-c", "dfu").code == 0


@pytest.mark.parametrize("code, errno, platform, kind, needle", [
    (-3, 13, "linux", "permission", "udev-rules --install"),
    (None, 13, "linux", "permission", "udev-rules --install"),
    (-3, 13, "win32", "busy", "another program"),
    (-12, 40, "win32", "driver", "Zadig"),
    (-5, 2, "win32", "driver", "Zadig"),  # no driver at all
    (-12, 38, "linux", "driver", None),
    (-3, 13, "darwin", "permission", "another program"),
    (-6, 16, "linux", "busy", "another program"),
    (-4, 19, "linux", "gone", None),
    (-1, 5, "linux", "other", None),
])
def test_open_problem_by_code_and_platform(code: int | None, errno: int, platform: str, kind: str,
                                           needle: str | None) -> None:
    exc = usb.core.USBError("failed", code, errno)
    problem = open_problem(exc, 0x0483, 0xDF11, platform)
    assert problem.kind == kind
    if needle is None:
        assert problem.fix is None
    else:
        assert problem.fix is not None and needle in problem.fix


def test_a_device_outside_stflash_rules_gets_its_own_line() -> None:
    exc = usb.core.USBError("Access denied", -3, 13)
    fix = open_problem(exc, 0x1209, 0x0001, "linux").fix
    assert fix is not None and udev_rule(0x1209, 0x0001) in fix and "stflash udev-rules" not in fix


def test_the_link_names_an_open_failure_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    on(monkeypatch, "linux")
    err = _open_error(usb.core.USBError("Access denied", -3, 13), "0483:df11")
    assert isinstance(err, DeviceBusyError) and err.hint is not None and RULE in err.hint
    assert isinstance(_open_error(usb.core.USBError("gone", -4, 19), "x"), NoDeviceError)
    assert isinstance(_open_error(usb.core.USBError("io", -1, 5), "x"), LinkError)
