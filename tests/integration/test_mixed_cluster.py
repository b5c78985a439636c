"""One scheduler, three kinds of workers: SSH lab hosts, SLURM jobs on a multi-node SLURM
in lab hosts, and a local worker; `up`, a sweep attached to it, `down`.

The lab has two SSH hosts (``pi1``, ``pi2``) and three SLURM nodes (``node1``-``node3``,
slurmd in their namespaces, slurmctld on the bridge); the scheduler listens on the
bridge address, which this machine, the SSH hosts and the SLURM nodes all reach.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.fixtures.lab import make_lab
from tests.fixtures.slurm_multinode import (
    make_multinode_slurm,
    pids_gone,
    slurm_host,
    worker_processes,
    workers_left,
    write_inventory,
)
from tests.helpers import cli, only_records

# down_after (conftest.py): the cluster a test brought up is stopped before the lab goes.
pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.usefixtures("down_after")]
NODES = ["node1", "node2", "node3"]
SSH_HOSTS = ["pi1", "pi2"]
LOCAL_HOST = "laptop"


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, "node:3x1.0cpu,pi:2x1.0cpu")


@pytest.fixture(scope="module")
def slurm(request, lab):
    return make_multinode_slurm(request, lab, NODES)


def mixed_inventory(lab, slurm, tmp_path: Path) -> Path:
    """A local worker, the lab's pi hosts over SSH (as `lab up` wrote them) and 3 SLURM jobs."""
    ssh = [host for host in yaml.safe_load(Path(lab.inventory).read_text())["hosts"]
           if host["name"] in SSH_HOSTS]
    local = {"name": LOCAL_HOST, "launcher": "local", "workers": 1}
    hosts = [local, *ssh, slurm_host(slurm, tmp_path / "logs", jobs=3)]
    return write_inventory(tmp_path / "mixed.yml", slurm, hosts, cluster="mixed")


def test_ssh_slurm_and_local_workers_on_one_scheduler(lab, slurm, tmp_path):
    started = time.monotonic()
    up = cli("up", str(mixed_inventory(lab, slurm, tmp_path)), "--timeout", "120")
    print(f"up of 1 local + 2 ssh + 3 slurm workers: {time.monotonic() - started:.1f} s")
    assert up.returncode == 0, up.stdout + up.stderr

    # Each worker runs where the inventory put it: its hostname says so.
    facts = worker_processes()
    hostnames = Counter(hostname for _, hostname in facts.values())
    assert hostnames == {socket.gethostname(): 1, "pi1": 1, "pi2": 1,
                         "node1": 1, "node2": 1, "node3": 1}, facts
    assert sorted(slurm.job_nodes().values()) == NODES

    started = time.monotonic()
    results = tmp_path / "results"
    run = cli("run", "scaling", "--attach", "--size", "tiny",
              "--workloads", "montecarlo,randomforest", "--schedulers", "distributed",
              "--workers", "3,6", "--repeats", "1", "--results-dir", str(results))
    print(f"sweep (2 workloads x 3,6 workers): {time.monotonic() - started:.1f} s")
    assert run.returncode == 0, run.stdout + run.stderr
    records = only_records(results)
    # A repeat whose worker set changed under load is re-run (--retries): a second record.
    assert {(r["workload"], r["workers"]) for r in records} == {
        ("montecarlo", 3), ("montecarlo", 6), ("randomforest", 3), ("randomforest", 6)}
    assert all(r["verified"] for r in records), records
    # An attached sweep names the inventory's single-machine hosts as the inventory does
    # (from up's state) and queue workers by the node address the scheduler knows: six
    # distinct machines, not three under the queue's name.
    everywhere = {LOCAL_HOST, *SSH_HOSTS, *(lab.host(h).address for h in NODES)}
    for record in (r for r in records if r["workers"] == 6):
        assert sorted(record["worker_hosts"]) == sorted(everywhere), record

    started = time.monotonic()
    down = cli("down")
    print(f"down: {time.monotonic() - started:.1f} s")
    assert down.returncode == 0, down.stderr
    assert slurm.wait_no_jobs() == []
    assert pids_gone([pid for pid, _ in facts.values()])  # the local worker's included
    assert workers_left(lab) == {}

