"""The second between `up` claiming a cluster and its daemon's first state write."""

from __future__ import annotations

import os
import time

import pytest

from clusterbench.cluster import lifecycle
from clusterbench.errors import StateError
from tests.helpers import cli


def test_a_fresh_claim_is_a_cluster_that_is_starting():
    path = lifecycle.claim("lab", "/somewhere/lab.yml")
    assert [state["cluster"] for _, state in lifecycle.running_states()] == ["lab"]
    with pytest.raises(StateError, match="'lab' is still starting"):
        lifecycle.running_cluster_address()
    status = cli("status")
    assert status.returncode == 0, status.stderr
    assert "cluster 'lab'" in status.stdout and "(starting)" in status.stdout
    path.unlink()


def test_a_stale_claim_without_daemon_is_not_a_cluster():
    path = lifecycle.claim("lab", "/somewhere/lab.yml")
    old = time.time() - 120
    os.utime(path, (old, old))
    assert lifecycle.running_states() == []
    status = cli("status")
    assert status.returncode != 0 and "no cluster is up" in status.stderr
    path.unlink()
