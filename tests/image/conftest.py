"""Fixtures for the image tests: external tools (required in CI) and the shared DfuSe corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import tooling
from tooling import CORPUS


@pytest.fixture(scope="session")
def require_tool() -> Callable[[str], str]:
    """``require_tool(name)`` gives the program's path; skips when it is absent, fails in CI."""
    return tooling.require_tool


@pytest.fixture(scope="session")
def corpus() -> list[Path]:
    """The real DfuSe files of the shared corpus; tests using it skip when it is not there."""
    files = sorted(CORPUS.glob("*.dfu")) if CORPUS.is_dir() else []
    if not files:
        pytest.skip(f"no DfuSe corpus in {CORPUS}")
    return files
