"""stflash doctor on DFU: the bootloader openable or not and why, the fix for this system, the cable on
the debugger's port, and applications that can be detached into their bootloader."""

from __future__ import annotations

from pathlib import Path

import pytest

import stflash.links.usb as usbmod
from stflash.sim.bench import Bench

RULE = 'ATTRS{idVendor}=="0483", ATTRS{idProduct}=="df11", MODE="0660", TAG+="uaccess"'


def board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *scenarios: str, **settings: str) -> Path:
    directory = tmp_path / "b"
    Bench.create(directory, "nucleo-f401re", scenarios=scenarios)
    with Bench.open(directory) as b:
        for name, value in settings.items():
            b.set(name.replace("_", "-"), value)
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    return directory


def dfu_findings(run_cli) -> tuple[list[dict[str, str]], bool]:  # type: ignore[no-untyped-def]
    r = run_cli("--json", "doctor")
    assert r.code == 0, r.err
    return [f for f in r.json["findings"] if f["check"] == "dfu"], bool(r.json["ok"])


def test_an_openable_bootloader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    board(tmp_path, monkeypatch, "bootloader-only")
    found, ok = dfu_findings(run_cli)
    assert ok and len(found) == 1 and found[0]["status"] == "ok"
    assert "STM32  BOOTLOADER" in found[0]["detail"] and "-c dfu:" in found[0]["detail"]


def test_linux_permission_fails_with_the_udev_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    board(tmp_path, monkeypatch, "bootloader-only", target_usb_open="access")
    monkeypatch.setattr(usbmod, "host_platform", lambda: "linux")
    found, ok = dfu_findings(run_cli)
    assert not ok
    assert found[0]["status"] == "fail" and "LIBUSB_ERROR_ACCESS" in found[0]["detail"]
    assert "sudo stflash udev-rules --install" in found[0]["fix"] and RULE in found[0]["fix"]
    text = run_cli("doctor").out
    assert "[FAIL] dfu:" in text and RULE in text


def test_windows_driver_fails_with_zadig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    board(tmp_path, monkeypatch, "bootloader-only", target_usb_open="not-supported")
    monkeypatch.setattr(usbmod, "host_platform", lambda: "win32")
    found, ok = dfu_findings(run_cli)
    assert not ok and found[0]["status"] == "fail"
    assert "WinUSB" in found[0]["fix"] and "Zadig" in found[0]["fix"] and "STM32CubeProgrammer" in found[0]["fix"]


def test_only_the_debugger_on_the_bus_means_the_wrong_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                          run_cli) -> None:
    board(tmp_path, monkeypatch)  # BOOT0 low, empty flash: no DFU device, the ST-LINK is there
    found, ok = dfu_findings(run_cli)
    assert ok and [f["status"] for f in found] == ["info"]
    assert "target's own USB port" in found[0]["detail"] and "BOOT0" in found[0]["detail"]


def test_an_application_with_dfu_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    board(tmp_path, monkeypatch, "dfu-runtime")
    found, ok = dfu_findings(run_cli)
    assert ok and len(found) == 1 and found[0]["status"] == "info"
    assert "DFU_DETACH" in found[0]["detail"] and "stflash probe -c dfu:" in found[0]["detail"]
    assert "debugger" not in found[0]["detail"]
