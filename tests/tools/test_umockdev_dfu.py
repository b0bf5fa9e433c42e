"""dfu-util (unmodified) against the bench's DfuSe bootloader via ``stflash sim run``.

The bootloader is on the bus only while the chip runs it (BOOT0 high); what dfu-util downloads is
what the flash holds and ``stflash read`` reads back, what ``stflash write`` puts there is what
``dfu-util -U`` uploads, and ``:leave`` takes the device off the bus into the application.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from simrun import FLASH, app_image, run

from tooling import require_tool

KIB = 1024


@pytest.fixture(autouse=True)
def _tools(umockdev: str) -> None:
    require_tool("dfu-util")


def listed(text: str) -> list[tuple[int, str]]:
    """(alt, name) of every DFU interface ``dfu-util -l`` found."""
    return sorted((int(alt), name) for alt, name in re.findall(r'alt=(\d+), name="([^"]*)"', text))


def test_list_shows_the_bootloader_with_its_alternate_settings(new_bench) -> None:  # type: ignore[no-untyped-def]
    ran = run(new_bench("nucleo-f401re", "bootloader-only"), "dfu-util", "-l")
    assert ran.code == 0, ran.text
    assert "[0483:df11] ver=2200" in ran.out
    assert listed(ran.out) == [
        (0, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg"),
        (1, "@Option Bytes  /0x1FFFC000/01*016 e"),
        (2, "@OTP Memory /0x1FFF7800/01*512 e,01*016 e"),
        (3, "@Device Feature/0xFFFF0000/01*004 e"),
    ]


def test_no_bootloader_on_the_bus_while_the_application_runs(new_bench) -> None:  # type: ignore[no-untyped-def]
    ran = run(new_bench("nucleo-f401re"), "dfu-util", "-l")
    assert ran.code == 0, ran.text
    assert listed(ran.out) == []


def test_download_with_leave_then_stflash_reads_it_back(new_bench, stflash_on, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = new_bench("nucleo-f401re", "bootloader-only")
    data = app_image(10 * KIB + 100, seed=11)
    image = tmp_path / "app.bin"
    image.write_bytes(data)
    ran = run(directory, "dfu-util", "-a", "0", "-s", "0x08000000:leave", "-D", str(image))
    assert ran.code == 0, ran.text
    assert "File downloaded successfully" in ran.out
    after = run(directory, "dfu-util", "-l")
    assert listed(after.out) == []  # left for the application: the bootloader is off the bus
    out = tmp_path / "back.bin"
    stflash_on(directory, "read", str(out), hex(FLASH), str(len(data)), "-c", "stlink")
    assert out.read_bytes() == data


def test_stflash_write_then_dfu_util_upload(new_bench, stflash_on, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = new_bench("nucleo-f401re", "bootloader-only")
    data = random.Random(5).randbytes(6 * KIB + 10)
    image = tmp_path / "app.bin"
    image.write_bytes(data)
    stflash_on(directory, "write", str(image), "-c", "dfu", "--no-reset")
    out = tmp_path / "up.bin"
    ran = run(directory, "dfu-util", "-a", "0", "-s", f"0x08000000:{len(data)}", "-U", str(out))
    assert ran.code == 0, ran.text
    assert out.read_bytes() == data
