"""Fixtures of the classic-tool tests: the real programs (st-info, st-flash, dfu-util) run
unmodified through ``stflash sim run``. Without umockdev or the programs the tests are skipped,
except in CI, where a missing one fails (as ``require_tool`` does).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from simrun import LongRuns, gi_interpreter

from stflash.sim.bench import Bench

from tooling import CORPUS, IN_CI, require_tool

LONG_RUNS_MODULE = "test_umockdev_waits"  # the module that checks the long runs


@pytest.fixture(scope="session")
def umockdev(request: pytest.FixtureRequest) -> str:
    """The interpreter that has gi + UMockdev (skip, or fail in CI, when there is none). When the
    session will check the long runs, they start now, to overlap the other tests."""
    require_tool("umockdev-wrapper")
    python = gi_interpreter()
    if python is None:
        message = "umockdev's Python bindings are missing (apt-get install gir1.2-umockdev-1.0 python3-gi)"
        if IN_CI:
            pytest.fail(message + ", but CI must install them (see .ci/run)")
        pytest.skip(message)
    modules = {getattr(getattr(item, "module", None), "__name__", "") for item in request.session.items}
    if LONG_RUNS_MODULE in modules and shutil.which("dfu-util"):
        request.getfixturevalue("long_runs")
    return python


@pytest.fixture(scope="session")
def long_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LongRuns]:
    require_tool("dfu-util")
    runs = LongRuns.start(tmp_path_factory.mktemp("long"), sorted(CORPUS.glob("*.dfu")))
    yield runs
    runs.stop()


@pytest.fixture
def new_bench(tmp_path: Path) -> Callable[..., Path]:
    """``new_bench(part, *scenarios, probe="V2-1")``: a fresh bench in the test's directory."""
    count = [0]

    def make(part: str, *scenarios: str, probe: str = "V2-1") -> Path:
        count[0] += 1
        directory = tmp_path / f"bench{count[0]}"
        Bench.create(directory, part, scenarios=scenarios, probe=probe)
        return directory

    return make


@pytest.fixture
def stflash_on(run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``stflash_on(directory, *args)``: stflash itself (in-process) on that bench, which must
    succeed."""

    def run_on(directory: Path, *args: str) -> None:
        monkeypatch.setenv("STFLASH_SIM", str(directory))
        r = run_cli(*args)
        assert r.code == 0, r.err

    return run_on
