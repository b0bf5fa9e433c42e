"""A DfuSe host we did not write, pyfu-usb (PyPI), against the simulated ROM: it finds the device
through pyusb, reads the memory map, erases page by page, writes with Set Address + block 2,
leaves, and the bytes must be in flash. pyfu-usb calls ``usb.core.find`` without a backend; the
test hands it the bench's."""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import pytest
import usb.core

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench

pyfu_usb = pytest.importorskip("pyfu_usb")

FLASH = 0x0800_0000
KIB = 1024


@pytest.fixture
def on_bench(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Point every ``usb.core.find`` of the test at a bench directory."""
    real = usb.core.find

    def use(directory: Path) -> None:
        backend = pyusb_backend(directory)
        monkeypatch.setattr(usb.core, "find", lambda *a, **k: real(*a, **{**k, "backend": backend}))

    return use


def image(size: int) -> bytes:
    """Random bytes behind a vector table the ROM accepts as an application."""
    return struct.pack("<II", 0x2000_2000, FLASH + 0x201) + os.urandom(size - 8)


def test_pyfu_lists_the_rom_and_its_memory(tmp_path: Path, on_bench, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "f407"
    Bench.create(d, "stm32f407vg", scenarios=["bootloader-only"])
    on_bench(d)
    with caplog.at_level(logging.INFO, logger="pyfu_usb"):
        pyfu_usb.list_devices()
    lines = [r.getMessage() for r in caplog.records]
    assert any("ID 0483:df11" in line for line in lines), lines
    # sectors 0-3, 4, 5-11 of alt 0, then the option bytes, OTP and device-feature alternates
    for expected in ("0x8000000  4 pages of  16K bytes", "0x8010000  1 pages of  64K bytes",
                     "0x8020000  7 pages of 128K bytes", "0x1fffc000  1 pages of  16 bytes",
                     "0x1fff7800  1 pages of 512 bytes", "0xffff0000  1 pages of   4 bytes"):
        assert any(expected in line for line in lines), (expected, lines)


@pytest.mark.parametrize("part, size", [("stm32f407vg", 512 * KIB), ("stm32h743zi", 256 * KIB)])
def test_pyfu_downloads_into_flash(tmp_path: Path, on_bench, part: str, size: int) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / part
    Bench.create(d, part, scenarios=["bootloader-only"])
    data = image(size)
    (tmp_path / "fw.bin").write_bytes(data)
    with Bench.open(d) as bench:
        t0 = bench.clock.now
    on_bench(d)
    pyfu_usb.download(str(tmp_path / "fw.bin"), address=FLASH)
    with Bench.open(d) as bench:
        assert bench.chip.rom_read(FLASH, size) == data
        assert bench.chip.boot_source == "flash", "the ROM jumped to the application"
        elapsed = bench.clock.now - t0
    assert usb.core.find(idVendor=0x0483, idProduct=0xDF11) is None, "the bootloader left the bus"
    if part == "stm32f407vg":
        # pyfu-usb erases sectors 0-8 (it also erases the sector starting right after the image),
        # then per 2 KiB: Set Address, DNLOAD, each with two GETSTATUS and no sleeps.
        erase = 4 * 250 + 550 + 4 * 1000  # ms, F4 sectors at x32 (docs/timing-model.md)
        program = size // 4 * 16 // 1000  # ms, 16 us per word
        usb_frames = size // 2048 * 8  # ms: 1 + 1 + 1 frames for Set Address, 3 + 1 + 1 for the data
        assert erase + program + usb_frames <= elapsed / 1e6 <= 1.1 * (erase + program + usb_frames)
        print(f"\npyfu-usb, 512 KiB to an F407: {elapsed / 1e9:.3f} s of virtual time")
