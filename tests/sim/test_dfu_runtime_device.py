"""The bench's dfu-runtime application as a DFU 1.1 host meets it through pyusb: the run-time
interface and its functional descriptor, appIDLE/appDETACH, the detach timer, the USB reset that
starts the system bootloader, bitWillDetach, and the devices a host may not open."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import usb.core
import usb.util

from stflash.errors import UsageError
from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench

APP = (0x0483, 0x5740)
ROM = (0x0483, 0xDF11)
APP_IDLE, APP_DETACH = 0, 1
ACCESS, NOT_SUPPORTED, NO_DEVICE, PIPE = -3, -12, -4, -9


def app_bench(tmp_path: Path, part: str = "nucleo-f401re") -> Path:
    d = tmp_path / "app"
    Bench.create(d, part, scenarios=["dfu-runtime"])
    return d


def find(d: Path, ids: tuple[int, int]) -> usb.core.Device | None:
    return usb.core.find(idVendor=ids[0], idProduct=ids[1], backend=pyusb_backend(d))


def status(dev: usb.core.Device) -> tuple[int, int, int]:
    r = bytes(dev.ctrl_transfer(0xA1, 3, 0, 1, 6))
    return r[0], int.from_bytes(r[1:4], "little"), r[4]


def code(call: object, *args: object) -> int:
    with pytest.raises(usb.core.USBError) as exc:
        call(*args)  # type: ignore[operator]
    return int(exc.value.backend_error_code)


def now(d: Path) -> int:
    with Bench.open(d) as b:
        return b.clock.now


def test_the_application_shows_a_dfu_runtime_interface(tmp_path: Path) -> None:
    d = app_bench(tmp_path)
    dev = find(d, APP)
    assert dev is not None and find(d, ROM) is None
    intf = [(i.bInterfaceNumber, i.bInterfaceClass, i.bInterfaceSubClass, i.bInterfaceProtocol)
            for i in dev.get_active_configuration()]
    assert intf == [(0, 0xFF, 0, 0), (1, 0xFE, 0x01, 0x01)]  # DFU 1.1 table 4.1: protocol 1 = run-time
    runtime = dev.get_active_configuration()[(1, 0)]
    length, kind, attributes, detach_ms, transfer, bcd = struct.unpack("<BBBHHH", bytes(runtime.extra_descriptors))
    assert (length, kind, attributes, detach_ms, bcd) == (9, 0x21, 0x03, 1000, 0x0110)  # no bitWillDetach
    rom_serial = usb.util.get_string(dev, dev.iSerialNumber)
    with Bench.open(d) as b:
        b.chip.rom_erase([0])  # its firmware gone: no application, no device
    assert find(d, APP) is None
    with Bench.open(d) as b:
        from stflash.sim.bench import scenario_firmware

        b.chip.rom_program(b.chip.chip.flash_base, scenario_firmware(b.chip.chip, "dfu-runtime"))
        b.power_cycle()
    dev = find(d, APP)
    assert dev is not None and usb.util.get_string(dev, dev.iSerialNumber) == rom_serial


def test_detach_then_reset_starts_the_bootloader_with_the_same_serial(tmp_path: Path) -> None:
    d = app_bench(tmp_path)
    dev = find(d, APP)
    assert dev is not None
    serial = usb.util.get_string(dev, dev.iSerialNumber)
    assert status(dev) == (0, 0, APP_IDLE)
    assert code(dev.ctrl_transfer, 0x21, 1, 2, 1, b"\x00") == PIPE  # DNLOAD is not a run-time request
    assert code(dev.ctrl_transfer, 0x21, 0, 500, 0, None) == PIPE  # wrong interface
    dev.ctrl_transfer(0x21, 0, 500, 1, None)  # DFU_DETACH, wTimeout 500 ms
    assert status(dev) == (0, 0, APP_DETACH)
    assert find(d, ROM) is None, "without bitWillDetach it waits for the host's USB reset"
    dev.reset()
    rom = find(d, ROM)
    assert rom is not None and find(d, APP) is None
    assert usb.util.get_string(rom, rom.iSerialNumber) == serial  # ST's USB library: the ROM's formula
    with Bench.open(d) as b:
        assert b.chip.boot_source == "bootloader" and not b.board.boot0


def test_a_reset_after_the_detach_timeout_keeps_the_application(tmp_path: Path) -> None:
    d = app_bench(tmp_path)
    dev = find(d, APP)
    assert dev is not None
    dev.ctrl_transfer(0x21, 0, 200, 1, None)
    with Bench.open(d) as b:
        b.host_wait(300_000_000)  # longer than wTimeout
    assert status(dev) == (0, 0, APP_IDLE)  # DFU 1.1 §5.1: timer expired, back to appIDLE
    dev.reset()
    assert find(d, ROM) is None and find(d, APP) is not None


def test_will_detach_leaves_the_bus_on_detach_alone(tmp_path: Path) -> None:
    d = app_bench(tmp_path)
    with Bench.open(d) as b:
        b.set("dfu-runtime-will-detach", "1")
    dev = find(d, APP)
    assert dev is not None
    attributes = bytes(dev.get_active_configuration()[(1, 0)].extra_descriptors)[2]
    assert attributes & 0x08
    dev.ctrl_transfer(0x21, 0, 1000, 1, None)
    assert code(status, dev) == NO_DEVICE
    assert find(d, ROM) is not None


@pytest.mark.parametrize("refusal, expected", [("access", ACCESS), ("not-supported", NOT_SUPPORTED)])
def test_a_host_that_may_not_open_the_target_devices(tmp_path: Path, refusal: str, expected: int) -> None:
    d = app_bench(tmp_path)
    with Bench.open(d) as b:
        b.set("target-usb-open", refusal)
    dev = find(d, APP)
    assert dev is not None and dev.bNumConfigurations == 1  # descriptors read without opening
    assert code(usb.util.get_langids, dev) == expected
    with Bench.open(d) as b:
        b.set("boot0", "1")
        b.press_reset()
    rom = find(d, ROM)
    assert rom is not None and code(rom.ctrl_transfer, 0xA1, 3, 0, 0, 6) == expected
    probe = usb.core.find(idVendor=0x0483, idProduct=0x374B, backend=pyusb_backend(d))
    assert probe is not None and usb.util.get_string(probe, probe.iProduct)  # the probe's cable is not affected
    with Bench.open(d) as b:
        b.set("target-usb-open", "ok")
    assert len(bytes(rom.ctrl_transfer(0xA1, 3, 0, 0, 6))) == 6


def test_settings_are_checked(tmp_path: Path) -> None:
    d = app_bench(tmp_path)
    with Bench.open(d) as b:
        with pytest.raises(UsageError, match="use ok, access"):
            b.set("target-usb-open", "maybe")
        with pytest.raises(UsageError, match="not of STM32F401xE"):
            b.set("dfu-rom", "h7-rev-v")
        with pytest.raises(UsageError, match="unknown DFU ROM variant"):
            b.set("dfu-rom", "f4-rev-z")
    with pytest.raises(UsageError, match="USB DFU bootloader"):
        Bench.create(tmp_path / "f103", "bluepill", scenarios=["dfu-runtime"])
