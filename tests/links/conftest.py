"""The ``bench`` fixture of the end-to-end link tests: a board whose chip runs its bootloader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stflash.sim.bench import Bench


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``bench(part, *scenarios)`` creates the board (BOOT0 high, flash empty) and points
    STFLASH_SIM at it."""

    def make(part: str, *scenarios: str) -> Path:
        directory = tmp_path / "bench"
        Bench.create(directory, part, scenarios=("bootloader-only", *scenarios), force=True)
        monkeypatch.setenv("STFLASH_SIM", str(directory))
        return directory

    return make
