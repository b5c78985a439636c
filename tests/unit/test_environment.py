"""environment.json: which code was measured (git commit and whether the tree was dirty)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from clusterbench.results import environment

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


def test_dirty_means_tracked_files_differ_from_the_commit(tmp_path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "add", "code.py")
    _git(tmp_path, "commit", "-qm", "one")
    (tmp_path / "untracked.txt").write_text("results are not code\n")
    assert environment._git_dirty(tmp_path) is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert environment._git_dirty(tmp_path) is True
    commit = environment._git("rev-parse", "HEAD", root=tmp_path)
    assert commit is not None and len(commit) == 40


def test_outside_a_checkout_both_are_unknown(tmp_path) -> None:
    assert environment._git("rev-parse", "HEAD", root=tmp_path) is None
    assert environment._git_dirty(tmp_path) is None


def test_the_run_environment_carries_both() -> None:
    captured = environment.capture_environment()
    assert {"git_commit", "git_dirty"} <= captured.keys()
    assert captured["git_dirty"] in (True, False, None)
