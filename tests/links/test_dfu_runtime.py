"""-c dfu with an application that has a DFU runtime interface: stflash detaches it (DFU_DETACH, then
a USB reset unless the device leaves by itself), waits for the DFU bootloader, and goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from stflash.sim.bench import Bench

from linkbench import clock, flash_bytes, random_file

FLASH = 0x0800_0000


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An F401 running the dfu-runtime application (BOOT0 low), STFLASH_SIM pointing at it."""
    directory = tmp_path / "app"
    Bench.create(directory, "nucleo-f401re", scenarios=["dfu-runtime"])
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    return directory


def serial_of(run_cli) -> str:  # type: ignore[no-untyped-def]
    r = run_cli("--json", "list", "--no-serial")
    apps = [d for d in r.json["devices"] if d.get("mode") == "runtime"]
    assert len(apps) == 1, r.json
    return str(apps[0]["serial"])


def test_list_shows_the_application_as_a_dfu_target(app: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("--json", "list", "--no-serial")
    assert r.code == 0
    apps = [d for d in r.json["devices"] if d.get("mode") == "runtime"]
    assert apps and apps[0]["usb_id"] == "0483:5740" and apps[0]["connect"].startswith("dfu:")
    assert "DFU runtime" in apps[0]["description"]


@pytest.mark.parametrize("will_detach, how", [(False, "DFU_DETACH + USB reset"), (True, "bitWillDetach")])
def test_probe_detaches_the_application_into_its_bootloader(app: Path, run_cli, will_detach: bool,  # type: ignore[no-untyped-def]
                                                            how: str) -> None:
    if will_detach:
        with Bench.open(app) as b:
            b.set("dfu-runtime-will-detach", "1")
    serial = serial_of(run_cli)
    r = run_cli("--json", "probe", "-c", f"dfu:{serial}")
    assert r.code == 0, r.err
    info = r.json
    assert info["chip"] == "STM32F401xE" and info["serial"] == serial  # the ROM has the application's serial
    before = info["observations"]["before"][0]
    assert "0483:5740" in before and how in before and "its DFU bootloader enumerated" in before
    with Bench.open(app) as b:
        assert b.chip.boot_source == "bootloader"


def test_write_through_a_detached_application_lands_and_runs(app: Path, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, data = random_file(tmp_path, 20 * 1024)
    r = run_cli("write", str(path), "-c", "dfu", "--no-reset")  # -c dfu: the only application is detached
    assert r.code == 0, r.err
    assert flash_bytes(app, FLASH, len(data)) == data


def test_without_c_the_only_target_is_the_application(app: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    with Bench.open(app) as b:
        b.board.probe = ""  # no ST-LINK on the bus: the application is the one device
    r = run_cli("--json", "probe")
    assert r.code == 0, r.err
    assert r.json["link"] == "dfu" and "DFU_DETACH" in r.json["observations"]["before"][0]


def test_another_serial_is_not_detached(app: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    serial = serial_of(run_cli)
    r = run_cli("probe", "-c", "dfu:000000000000")
    assert r.code == 3
    assert "with serial 000000000000" in r.err and f"-c dfu:{serial}" in r.err and "DFU runtime" in r.err
    assert "debugger's USB port" not in r.err, "the target's port is cabled: its application is on the bus"
    with Bench.open(app) as b:
        assert b.chip.boot_source == "flash"


def test_firmware_that_ignores_the_detach_is_reported(app: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import stflash.links.dfu.runtime as host_side
    import stflash.sim.dfu.runtime as runtime

    monkeypatch.setattr(runtime, "start_bootloader", lambda bench, why: None)  # it never jumps to the ROM
    monkeypatch.setattr(host_side, "DETACH_ENUMERATION_S", 1.0)
    t0 = clock(app)
    r = run_cli("probe", "-c", "dfu", "--wait", "2")  # --wait, when longer, sets how long to wait
    assert r.code == 3
    assert "sent DFU_DETACH + USB reset" in r.err and "no DFU bootloader appeared within 2 s" in r.err
    assert "BOOT0" in r.err
    assert clock(app) - t0 >= 2_000_000_000, "the wait runs on the bench's clock"


def test_an_application_this_user_may_not_open(app: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    with Bench.open(app) as b:
        b.set("target-usb-open", "access")
    r = run_cli("probe", "-c", "dfu")
    assert r.code == 5
    assert "cannot be opened to detach it" in r.err and "LIBUSB_ERROR_ACCESS" in r.err
    # not one of stflash's rules: the line to add, for this VID:PID
    assert 'ATTRS{idVendor}=="0483", ATTRS{idProduct}=="5740"' in r.err and "/etc/udev/rules.d/" in r.err
    with Bench.open(app) as b:
        assert b.chip.boot_source == "flash"


def test_another_makers_application_is_detached_only_by_its_serial(tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import stflash.sim.dfu.runtime as runtime

    monkeypatch.setattr(runtime, "APP_VID", 0x1209)  # not ST's VID: could be a Bluetooth adapter
    directory = tmp_path / "other"
    Bench.create(directory, "nucleo-f401re", scenarios=["dfu-runtime"])
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    r = run_cli("--json", "list", "--no-serial")
    assert not [d for d in r.json["devices"] if d.get("mode") == "runtime"], "not offered as a DFU target"
    assert run_cli("probe", "-c", "dfu").code == 3
    with Bench.open(directory) as b:
        assert b.chip.boot_source == "flash", "left alone"
        from stflash.sim.dfu.rom import serial_number

        serial = serial_number(b.chip.chip, b.chip.seed)
    r = run_cli("--json", "probe", "-c", f"dfu:{serial}")
    assert r.code == 0, r.err
    assert "1209:5740" in r.json["observations"]["before"][0]
