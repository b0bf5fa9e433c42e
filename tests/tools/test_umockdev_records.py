"""The sysfs/udev records ``stflash sim run`` gives umockdev: what libusb reads to enumerate a
bench device (checked without umockdev: the record text itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from simrun import usb_bus

import stflash
from stflash.sim.bench import Bench
from stflash.sim.umockdev.records import device_record


def records(tmp_path: Path, *scenarios: str) -> dict[str, dict[str, object]]:
    Bench.create(tmp_path / "b", "nucleo-f401re", scenarios=scenarios)
    with usb_bus(tmp_path / "b") as devices:
        return {f"{d.descriptor.idProduct:04x}": device_record(d) for d in devices}


def lines(record: dict[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in str(record["record"]).splitlines():
        kind, _, rest = line.partition(": ")
        key, _, value = rest.partition("=")
        out[f"{kind}:{key}"] = value
    return out


def test_the_stlink_record_is_what_libusb_reads(tmp_path: Path) -> None:
    found = records(tmp_path)
    assert list(found) == ["374b"]  # no bootloader while the application runs
    rec = found["374b"]
    fields = lines(rec)
    assert fields["P:/devices/pci0000:00/0000:00:14.0/usb1/1-1"] == ""
    assert rec["syspath"] == "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"
    assert rec["devnode"] == "/dev/bus/usb/001/002" and fields["N:bus/usb/001/002"] == ""
    # numeric attributes end with a newline as the kernel's do (C-escaped in the record)
    assert fields["A:busnum"] == "1\\n" and fields["A:devnum"] == "2\\n" and fields["A:speed"] == "12\\n"
    assert fields["A:bConfigurationValue"] == "1\\n" and fields["A:dev"] == "189:1"
    assert fields["E:SUBSYSTEM"] == "usb" and fields["E:DEVTYPE"] == "usb_device"
    descriptors = bytes.fromhex(fields["H:descriptors"])
    assert descriptors[:18].hex() == "12010002ef02014083044b37000101020301"
    assert descriptors[18] == 9 and descriptors[19] == 2  # the configuration descriptor follows
    assert int.from_bytes(descriptors[20:22], "little") == len(descriptors) - 18


def test_the_bootloader_has_its_own_port_and_address(tmp_path: Path) -> None:
    found = records(tmp_path, "bootloader-only")
    assert sorted(found) == ["374b", "df11"]
    dfu = found["df11"]
    assert str(dfu["syspath"]).endswith("/usb1/1-2") and dfu["ports"] == [2]
    assert dfu["devnode"] == f"/dev/bus/usb/001/{dfu['address']:03d}" and dfu["address"] != 2
    assert str(dfu["key"]).startswith("0483:df11:")


def test_the_testbed_side_needs_only_the_standard_library() -> None:
    """It runs in Debian's python3, which has gi but maybe none of stflash's dependencies."""
    src = Path(stflash.__file__).resolve().parents[1]
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import stflash.sim.umockdev.testbed; "
            "print(sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
            "{'usb', 'click', 'unicorn', 'serial', 'elftools', 'libusb_package'}))")
    out = subprocess.run([sys.executable, "-S", "-c", code, str(src)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
