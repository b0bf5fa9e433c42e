"""The examples in the repository run and say what the docs promise."""

from __future__ import annotations

import subprocess
import sys

from tooling import REPO

BLINKY = REPO / "examples" / "blinky" / "blinky-nucleo-f401re.hex"


def plan_and_convert(part: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "examples" / "plan_and_convert.py"), str(BLINKY), part],
                          capture_output=True, text=True)


def test_plan_and_convert_example_runs() -> None:
    out = plan_and_convert("nucleo-f401re")
    assert out.returncode == 0, out.stderr
    assert "76 bytes in 1 segment" in out.stdout
    assert "sector 0" in out.stdout and "same bytes = True" in out.stdout


def test_example_reports_errors_with_the_documented_exit_code() -> None:
    out = plan_and_convert("stm32f999")
    assert out.returncode == 15 and "stm32f999" in out.stderr


def test_blinky_formats_agree() -> None:
    import stflash

    hexed = stflash.load(str(BLINKY)).image
    elf = stflash.load(str(BLINKY.with_suffix(".elf")))
    binary = stflash.load(str(BLINKY.with_suffix(".bin"))).image
    assert hexed == elf.image == binary
    assert elf.entry == 0x0800_0009  # reset_handler, Thumb bit set
