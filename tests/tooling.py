"""External programs the tests prove our files and devices against (a plain module, importable from
any test directory: the per-directory conftest modules share one name)."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name: str) -> str:
    """Path of an external program; skipped when absent, except in CI where it must be installed."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed, but CI must install it (see .ci/run)")
        pytest.skip(f"{name} not installed")
    return path
