"""Shared test helpers: run the CLI in-process, find the shared corpus, require external tools."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tooling import CORPUS, IN_CI, REPO, require_tool  # noqa: F401  (re-exported for the tests)


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


