"""Fingerprint and per-worker capacity of real SSH lab workers (netns hosts, sshd, cgroups).

The lab is made by tests.fixtures.lab (skipped without root/sshd, failing in CI).  The
cluster is started as a run starts it (runner.backends.ManagedCluster) and closed by the
fixture; the lab's teardown kills whatever is still in its hosts' cgroups.
"""

from __future__ import annotations

import pytest

from clusterbench.runner.hostinfo import MIN_SECONDS, measure_workers, rate_kernel
from tests.fixtures.lab import make_lab

# down_after (conftest.py): a cluster left up by `clusterbench up` is stopped too.
pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.usefixtures("down_after")]


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, "pi:1x0.25cpu/512MB,desktop:1x1.0cpu")


@pytest.fixture()
def cluster(lab):
    from clusterbench.inventory.load import load_inventory
    from clusterbench.runner.backends import ManagedCluster

    backend = ManagedCluster(load_inventory(lab.inventory), timeout=120)
    try:
        yield backend
    finally:
        backend.close()


def test_lab_workers_report_their_cgroup_limits_and_capacity(lab, cluster):
    point = cluster.workers_for(cluster.max_workers)
    workers = [(a, n, h, point.threads)
               for a, n, h in zip(point.addresses, point.names, point.hosts, strict=True)]
    hosts, seconds = measure_workers(cluster.client, workers, rate_kernel(MIN_SECONDS))

    assert set(hosts) == {"pi1", "desktop1"}
    pi, desktop = hosts["pi1"], hosts["desktop1"]
    # Collected on the worker: the fake host's own hostname and cgroup, as the spec sets them.
    assert pi["fingerprint"]["hostname"] == lab.host("pi1").hostname
    assert desktop["fingerprint"]["hostname"] == lab.host("desktop1").hostname
    assert pi["fingerprint"]["cpu_quota"] == 0.25
    assert pi["fingerprint"]["memory_limit_bytes"] == lab.host("pi1").memory == 512 * 10**6
    assert desktop["fingerprint"]["cpu_quota"] == 1.0
    assert pi["fingerprint"]["packages"]["clusterbench"]

    (pi_worker,) = pi["workers"].values()
    (desktop_worker,) = desktop["workers"].values()
    # 0.25 against 1.0 CPU; loose on purpose (a shared 2-core VM, CFS is noisy).
    for key in ("capacity_alone", "capacity"):
        assert 0 < pi_worker[key] < 0.6 * desktop_worker[key], (key, hosts)
    # Different hosts calibrate concurrently: one alone round + the together round.
    assert seconds < 6 * MIN_SECONDS, seconds
