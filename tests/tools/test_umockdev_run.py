"""``stflash sim run`` itself: what any libusb program sees (the pyusb backend's devices, byte for
byte), the program's exit status, waiting without spinning, hot-plug, and the message when
umockdev is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import usb.core
from simrun import run, usb_bus

from stflash.sim import pyusb_backend
from stflash.sim.usb.descriptors import string_descriptor

from tooling import require_tool

CLIENT = Path(__file__).with_name("libusb_client.py")
STLINK_V2_1 = "0483:374b"


def client(directory: Path, *args: str) -> dict[str, object]:
    ran = run(directory, sys.executable, str(CLIENT), *args)
    assert ran.code == 0, ran.text
    result: dict[str, object] = json.loads(ran.out.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("bootloader", [False, True])
def test_libusb_sees_the_devices_pyusb_sees(bootloader: bool, umockdev: str, new_bench) -> None:  # type: ignore[no-untyped-def]
    directory = new_bench("nucleo-f401re", *(["bootloader-only"] if bootloader else []))
    vid, pid = (0x0483, 0xDF11) if bootloader else (0x0483, 0x374B)
    seen = client(directory, "describe", f"{vid:04x}:{pid:04x}")
    with usb_bus(directory) as devices:
        model = next(d for d in devices if (d.descriptor.idVendor, d.descriptor.idProduct) == (vid, pid))
        device, config = model.descriptor.pack(), model.configuration.pack()
        serial = string_descriptor(model.strings[model.descriptor.iSerialNumber])
    assert bytes.fromhex(str(seen["sysfs_device"])) == device  # enumeration (sysfs)
    assert bytes.fromhex(str(seen["device"])) == device  # GET_DESCRIPTOR from the device model
    assert bytes.fromhex(str(seen["config"])) == config
    assert bytes.fromhex(str(seen["serial"])) == serial
    found = usb.core.find(idVendor=vid, idProduct=pid, backend=pyusb_backend(directory))
    assert found is not None
    assert (seen["bus"], seen["address"], seen["ports"]) == (found.bus, found.address, list(found.port_numbers))


def test_a_read_nobody_answers_times_out_without_spinning(umockdev: str, new_bench) -> None:  # type: ignore[no-untyped-def]
    result = client(new_bench("nucleo-f401re"), "timeout", STLINK_V2_1, "1200")
    assert result["first"] == -7  # LIBUSB_ERROR_TIMEOUT, after the program's own timeout
    assert 1.1 < float(str(result["first_wall_s"])) < 3
    assert float(str(result["first_cpu_s"])) < 0.25  # a reap loop would burn the whole 1.2 s
    assert result["sent"] == 0 and result["second"] == 0
    assert result["reply"] == "2b5f83044b37"  # GET_VERSION afterwards: V2J45M31, 0483:374b


def test_the_programs_exit_status_is_returned(umockdev: str, new_bench, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = new_bench("nucleo-f401re")
    assert run(directory, "sh", "-c", "exit 7").code == 7
    assert run(directory, "sh", "-c", "kill -TERM $$").code == 128 + 15
    assert run(directory, "no-such-program-anywhere").code == 127
    assert run_cli("sim", "run", str(directory), "--", "sh", "-c", "exit 7").code == 7  # stflash.cli.main.main


def test_the_bootloader_appears_while_a_program_waits_for_it(umockdev: str, new_bench, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """dfu-util -w waits for a DFU device; another process resets the board into its bootloader
    (BOOT0 high, NRST pulsed) while it waits, and the testbed plugs the new device in."""
    require_tool("dfu-util")
    directory = new_bench("nucleo-f401re")
    out = tmp_path / "up.bin"
    stflash = f"{sys.executable} -m stflash sim set {directory}"
    script = (f"dfu-util -w -a 0 -s 0x08000000:256 -U {out} & sleep 0.5; "
              f"{stflash} boot0=1 nrst=0 >/dev/null && {stflash} nrst=1 >/dev/null; wait $!")
    ran = run(directory, "sh", "-c", script)
    assert ran.code == 0, ran.text
    assert out.read_bytes() == b"\xff" * 256  # the empty flash, through the bootloader


def test_missing_umockdev_says_which_packages_to_install(run_cli, new_bench, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = new_bench("nucleo-f401re")
    monkeypatch.setenv("PATH", str(tmp_path))  # no umockdev-wrapper
    r = run_cli("sim", "run", str(directory), "--", "st-info", "--probe")
    assert r.code == 13  # not supported here
    assert "apt-get install umockdev gir1.2-umockdev-1.0 python3-gi" in r.err


def test_missing_bindings_say_which_packages_to_install(umockdev: str, run_cli, new_bench, monkeypatch,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:
    directory = new_bench("nucleo-f401re")
    shadow = tmp_path / "shadow" / "gi"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no gi in this interpreter')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))  # every interpreter now lacks gi
    r = run_cli("sim", "run", str(directory), "--", "true")
    assert r.code == 13
    assert "no gi in this interpreter" in r.err
    assert "apt-get install umockdev gir1.2-umockdev-1.0 python3-gi" in r.err
