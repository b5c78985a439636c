"""Shared fixtures: an isolated state directory, and the real-component fixtures."""

from __future__ import annotations

import pytest

from tests.fixtures.lab import *  # noqa: F403 - lab fixtures (real netns + sshd + cgroups)
from tests.fixtures.sge import *  # noqa: F403 - sge fixtures (real sge_qmaster + sge_execd)
from tests.fixtures.slurm import *  # noqa: F403 - slurm fixtures (real munge + slurmctld + slurmd)


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory, monkeypatch):
    """`clusterbench up` state files of each test live in a private directory."""
    monkeypatch.setenv("CLUSTERBENCH_STATE_DIR", str(tmp_path_factory.mktemp("state")))
