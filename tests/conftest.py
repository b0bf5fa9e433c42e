"""The ``run_cli`` fixture: the CLI in-process (the corpus and external tools are in ``tooling``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest


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


