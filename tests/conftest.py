"""Shared test helpers: run the CLI in-process, find the shared corpus, require external tools."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Call ``stflash`` in-process and return its exit code, stdout and stderr."""
    from stflash.cli.main import main

    def _run(*args: str) -> Run:
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return _run


def require_tool(name: str) -> str:
    """Path of an external program; skipped when absent, except in CI where it must be installed."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed, but CI must install it (see .ci/run)")
        pytest.skip(f"{name} not installed")
    return path
