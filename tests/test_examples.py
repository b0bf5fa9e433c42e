"""The examples in the repository run and say what the docs promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLINKY = REPO / "examples" / "blinky" / "blinky-nucleo-f401re.hex"


def test_plan_and_convert_example_runs() -> None:
    out = subprocess.run([sys.executable, str(REPO / "examples" / "plan_and_convert.py"), str(BLINKY), "nucleo-f401re"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "76 bytes in 1 segment" in out.stdout
    assert "sector 0" in out.stdout and "same bytes = True" in out.stdout


def test_example_reports_errors_with_the_documented_exit_code() -> None:
    out = subprocess.run([sys.executable, str(REPO / "examples" / "plan_and_convert.py"), str(BLINKY), "stm32f999"],
                         capture_output=True, text=True)
    assert out.returncode == 15 and "stm32f999" in out.stderr


def test_blinky_formats_agree() -> None:
    import stflash

    hexed = stflash.load(str(BLINKY)).image
    elf = stflash.load(str(BLINKY.with_suffix(".elf")))
    binary = stflash.load(str(BLINKY.with_suffix(".bin"))).image
    assert hexed == elf.image == binary
    assert elf.entry == 0x0800_0009  # reset_handler, Thumb bit set
