"""The code base passes ruff and mypy (both configured in pyproject.toml); CI installs them
via .[dev]."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_is_clean():
    if shutil.which("ruff") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but ruff is not installed (pip install -e '.[dev]')")
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "clusterbench", "tests"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean():
    """``mypy clusterbench`` at the level in pyproject.toml's [tool.mypy] (a few modules
    still have ``ignore_errors``; see the comment there)."""
    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but mypy is not installed (pip install -e '.[dev]')")
        pytest.skip("mypy is not installed (pip install -e '.[dev]')")
    # The cache (.mypy_cache, git-ignored) makes runs after the first take seconds.
    done = subprocess.run([sys.executable, "-m", "mypy", "clusterbench"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
