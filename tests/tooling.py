"""What tests in every directory share: the external programs they prove our files and devices
against, and the corpus of real files (a plain module, importable from any test directory, where
the per-directory conftest modules share one name)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"  # real files from the field, beside the repository


def require_tool(name: str) -> str:
    """Path of an external program; skipped when absent, except in CI where it must be installed."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed, but CI must install it (see .ci/run)")
        pytest.skip(f"{name} not installed")
    return path


def corpus_files(*names: str) -> list[Path]:
    """The corpus files asked for (all ``.dfu`` files when none are named). The corpus lives beside
    the repository, not in it: a clone without it skips these tests rather than failing them."""
    files = [CORPUS / n for n in names] if names else sorted(CORPUS.glob("*.dfu")) if CORPUS.is_dir() else []
    if not files or not all(f.is_file() for f in files):
        pytest.skip(f"the corpus of real files is not in {CORPUS}")
    return files
