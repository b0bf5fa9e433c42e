"""The ROM's DFU device as enumeration shows it: when it is on the bus, and the descriptors, strings
and memory-map strings real ROMs report (dfu.md §2.11 and the lsusb dumps it cites)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import usb.core
import usb.util

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench
from stflash.sim.dfu.rom import serial_from_uid

VID, PID = 0x0483, 0xDF11


def find(directory: Path) -> usb.core.Device | None:
    return usb.core.find(idVendor=VID, idProduct=PID, backend=pyusb_backend(directory))


def test_absent_while_the_application_runs_present_in_the_bootloader(tmp_path: Path) -> None:
    d = tmp_path / "b"
    Bench.create(d, "nucleo-f401re")  # BOOT0 low: the chip starts from flash
    assert find(d) is None
    with Bench.open(d) as bench:
        bench.set("boot0", "1")
        assert bench.chip.boot_source == "flash"
    assert find(d) is None, "BOOT0 is only sampled at reset"
    with Bench.open(d) as bench:
        bench.press_reset()
    assert find(d) is not None
    for setting, present in (("target-usb=0", False), ("target-usb=1", True), ("nrst=0", False),
                             ("nrst=1", True), ("power=0", False), ("power=1", True)):
        with Bench.open(d) as bench:
            bench.set(*setting.split("="))
        assert (find(d) is not None) == present, setting
    with Bench.open(d) as bench:
        bench.set("boot0", "0")
        bench.press_reset()
    assert find(d) is None


def test_bootloader_only_scenario_and_parts_without_usb(tmp_path: Path) -> None:
    Bench.create(tmp_path / "f4", "stm32f407vg", scenarios=["bootloader-only"])
    assert find(tmp_path / "f4") is not None
    # G0B1: empty flash boots the ROM whatever BOOT0 (nBOOT_SEL=1 as delivered)
    Bench.create(tmp_path / "g0", "stm32g0b1re")
    assert find(tmp_path / "g0") is not None
    # an F103 ROM has no USB bootloader, a G071 neither
    for part in ("stm32f103rb", "stm32g071rb"):
        Bench.create(tmp_path / part, part, scenarios=["bootloader-only"])
        assert find(tmp_path / part) is None, part


def test_sim_set_target_usb_through_the_cli(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "b"
    Bench.create(d, "stm32h743zi", scenarios=["bootloader-only"])
    assert run_cli("sim", "set", str(d), "target-usb=0").code == 0
    assert find(d) is None
    assert run_cli("sim", "set", str(d), "target-usb=1").code == 0
    assert find(d) is not None


ROMS = {
    # part: (iProduct, bcdDevice, bcdUSB, wTransferSize, alternate-setting strings)
    "stm32f401re": ("STM32  BOOTLOADER", 0x2200, 0x0100, 2048, (
        "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg",  # lsusb dump of an F401-class ROM
        "@Option Bytes  /0x1FFFC000/01*016 e",
        "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
        "@Device Feature/0xFFFF0000/01*004 e",
    )),
    "stm32f407vg": ("STM32  BOOTLOADER", 0x2100, 0x0100, 2048, (  # dfu-util's F4-Discovery log
        "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
        "@Option Bytes  /0x1FFFC000/01*016 g",
        "@OTP Memory /0x1FFF7800/01*512 g,01*016 g",
        "@Device Feature/0xFFFF0000/01*004 g",
    )),
    "stm32f746zg": ("STM32  BOOTLOADER", 0x2200, 0x0100, 2048, (
        "@Internal Flash  /0x08000000/04*032Kg,01*128Kg,03*256Kg",  # Betaflight's F74x comment
        "@Option Bytes  /0x1FFF0000/01*032 e",
        "@OTP Memory /0x1FF0F000/01*1040e",
        "@Device Feature/0xFFFF0000/01*004 e",
    )),
    "stm32f767zi": ("STM32  BOOTLOADER", 0x2200, 0x0100, 2048, (
        "@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg",
        "@Option Bytes  /0x1FFF0000/01*032 e",
        "@OTP Memory /0x1FF0F000/01*1040e",
        "@Device Feature/0xFFFF0000/01*004 e",
    )),
    "stm32f722ze": ("STM32  BOOTLOADER", 0x2200, 0x0100, 2048, (  # a real F72x ROM, verbatim
        "@Internal Flash  /0x08000000/04*016Kg,01*64Kg,03*128Kg",
        "@Option Bytes  /0x1FFF0000/01*048 e",
        "@OTP Memory /0x1FF07800/01*528e",
        "@Device Feature/0xFFFF0000/01*004 e",
    )),
    "stm32g0b1re": ("DFU in FS Mode", 0x0200, 0x0200, 1024, (
        "@Internal Flash   /0x08000000/256*02Kg",  # as a G0C1 ROM reports it
        "@Option Bytes   /0x1FFF7800/01*40Be",
        "@OTP Memory   /0x1FFF7000/01*01Ke",
    )),
    "stm32l476rg": ("STM32  BOOTLOADER", 0x2200, 0x0100, 2048, (
        "@Internal Flash  /0x08000000/0512*0002Kg",  # the L4 ROM's 4-digit format
        "@Option Bytes  /0x1FFF7800/01*040 e",
        "@OTP Memory /0x1FFF7000/01*0001Ke",
        "@Device Feature/0xFFFF0000/01*004 e",
    )),
    "stm32h743zi": ("DFU in FS Mode", 0x0200, 0x0200, 1024, (
        "@Internal Flash   /0x08000000/16*128Kg",
        "@Option Bytes   /0x5200201C/01*128 e",
    )),
    "stm32h750vb": ("DFU in FS Mode", 0x0200, 0x0200, 1024, (
        "@Internal Flash   /0x08000000/16*128Kg",  # the ROM reports 2 MB on a 128 K part
        "@Option Bytes   /0x5200201C/01*128 e",
    )),
    "stm32h723zg": ("DFU in FS Mode", 0x0200, 0x0200, 1024, (
        "@Internal Flash   /0x08000000/8*128Kg",
        "@Option Bytes   /0x5200201C/01*88 e",
    )),
    "stm32g474re": ("DFU in FS Mode", 0x0200, 0x0200, 1024, (
        "@Internal Flash   /0x08000000/256*02Kg",
        "@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e",
        "@OTP Memory   /0x1FFF7000/01*1024 e",
    )),
}


@pytest.mark.parametrize("part", sorted(ROMS))
def test_descriptors_and_strings_per_family(tmp_path: Path, part: str) -> None:
    product, bcd, bcd_usb, xfer, alts = ROMS[part]
    d = tmp_path / "b"
    Bench.create(d, part, scenarios=["bootloader-only"])
    dev = find(d)
    assert dev is not None
    try:
        raw = bytes(dev.ctrl_transfer(0x80, 6, 0x0100, 0, 18))
        assert raw == struct.pack("<BBHBBBBHHHBBBB", 18, 1, bcd_usb, 0, 0, 0, 64, VID, PID, bcd, 1, 2, 3, 1)
        assert usb.util.get_string(dev, 1) == "STMicroelectronics"
        assert usb.util.get_string(dev, 2) == product
        config = bytes(dev.ctrl_transfer(0x80, 6, 0x0200, 0, 512))
        n = len(alts)
        assert len(config) == 9 + 9 * n + 9  # F4: wTotalLength 54, as lsusb shows
        assert config[:9] == struct.pack("<BBHBBBBB", 9, 2, len(config), 1, 1, 0, 0xC0, 50)
        for alt, text in enumerate(alts):
            intf = config[9 + 9 * alt : 18 + 9 * alt]
            assert intf == bytes([9, 4, 0, alt, 0, 0xFE, 0x01, 0x02, 4 + alt])
            assert usb.util.get_string(dev, 4 + alt) == text
        # the DFU functional descriptor after the last alternate setting
        assert config[-9:] == bytes([9, 0x21, 0x0B, 0xFF, 0x00]) + struct.pack("<HH", xfer, 0x011A)
        # pyusb (like libusb) hands it over as the last alternate setting's extra bytes
        cfg = dev.get_active_configuration()
        assert bytes(cfg[(0, n - 1)].extra_descriptors) == config[-9:]
    finally:
        usb.util.dispose_resources(dev)


def test_serial_number_follows_the_rom_formula(tmp_path: Path) -> None:
    # dfu.md §2.11: UID 00580027 3331500B 20333153 enumerates as "208B317A3331"
    uid = struct.pack("<III", 0x00580027, 0x3331500B, 0x20333153)
    assert serial_from_uid(uid) == "208B317A3331"
    for part, seed in (("stm32f407vg", 0), ("stm32f407vg", 7), ("stm32h743zi", 3)):
        d = tmp_path / f"{part}-{seed}"
        Bench.create(d, part, scenarios=["bootloader-only"], seed=seed)
        with Bench.open(d) as bench:
            w0, w1, w2 = struct.unpack("<III", bench.chip.read_block(bench.chip.chip.uid_address, 12))
        dev = find(d)
        assert dev is not None
        expected = f"{(w0 + w2) & 0xFFFFFFFF:08X}{w1 >> 16:04X}"
        assert usb.util.get_string(dev, dev.iSerialNumber) == expected
        usb.util.dispose_resources(dev)
