"""The committed loader bytes are what loader.S assembles to, the code runs wherever it is put,
and the host and the loader agree on the control block."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from stflash.flash.loader import build, layout, loader_code

from tooling import REPO, require_tool


def _tools() -> None:
    for name in build.TOOLS:
        require_tool(f"arm-none-eabi-{name}")


def test_committed_loader_bin_is_what_loader_s_assembles_to() -> None:
    _tools()
    assert build.assemble() == build.BINARY.read_bytes() == loader_code()
    assert build.main(["--check"]) == 0


def test_the_code_is_position_independent() -> None:
    """Linked at two bases (SRAM 0x2000_0000, H7 AXI SRAM 0x2400_0000) the bytes do not change:
    no absolute address anywhere, so any RAM start works."""
    _tools()
    assert build.assemble(base=0x2000_0000) == build.assemble(base=0x2400_0000) == loader_code()


def test_host_and_loader_agree_on_the_control_block() -> None:
    equ = dict(re.findall(r"^\s*\.equ\s+(\w+),\s*(\w+)", build.SOURCE.read_text(), re.M))
    names = [n for n in vars(layout) if re.fullmatch(r"(CB|D|S|STEP|CMD|ST|DONE)_[A-Z_]+", n)]
    names += ["BLANK_FLAG"]
    checked = [n for n in names if n in equ]
    assert len(checked) >= 40
    for name in checked:
        assert int(equ[name], 0) == getattr(layout, name), name
    assert max(int(equ[n], 0) for n in equ if n.startswith("CB_")) < layout.CONTROL_SIZE
    assert max(int(equ[n], 0) for n in equ if n.startswith("D_")) + 4 == layout.DESCRIPTOR_SIZE
    assert max(int(equ[n], 0) for n in equ if n.startswith("S_")) + 4 == layout.STEP_SIZE


def test_the_loader_is_small() -> None:
    assert 256 < len(loader_code()) <= 1024
    assert len(loader_code()) % 2 == 0


def test_loader_bin_ships_in_the_wheel() -> None:
    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["stflash"]
    relative = Path(build.BINARY).relative_to(REPO / "src" / "stflash").as_posix()
    assert any(fnmatch.fnmatch(relative, p) for p in patterns)
