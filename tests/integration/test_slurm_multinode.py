"""Multi-node SLURM on the lab: three slurmd in three fake hosts, slurmctld on the bridge.

`up` of 6 one-core jobs returns with 6 registered workers spread 2-2-2 over the nodes
(``LLN=YES``); `status` names each worker's node, and the worker itself confirms it
(its address is that node's, its hostname is the node's name); `down` leaves squeue
empty and every worker PID gone.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from tests.fixtures.lab import make_lab
from tests.fixtures.slurm_multinode import (
    make_multinode_slurm,
    pids_gone,
    slurm_host,
    worker_processes,
    workers_left,
    write_inventory,
)
from tests.helpers import cli

# down_after (conftest.py): the cluster a test brought up is stopped before the lab goes.
pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.usefixtures("down_after")]
NODES = ["node1", "node2", "node3"]


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    # Unthrottled fake hosts: only their network and hostname matter here.
    return make_lab(request, tmp_path_factory, "node:3x1.0cpu")


@pytest.fixture(scope="module")
def slurm(request, lab):
    return make_multinode_slurm(request, lab, NODES)


def test_six_jobs_on_three_nodes_up_status_down(lab, slurm, tmp_path):
    inventory = write_inventory(tmp_path / "hpc.yml", slurm, [slurm_host(slurm, tmp_path / "logs")])
    started = time.monotonic()
    up = cli("up", str(inventory), "--timeout", "120")
    print(f"up of 6 jobs on 3 nodes: {time.monotonic() - started:.1f} s")
    assert up.returncode == 0, up.stdout + up.stderr

    # `up` returned: all six are registered, each job running on the node squeue names.
    status = cli("status", "--json")
    assert status.returncode == 0, status.stderr
    (cluster,) = json.loads(status.stdout)["clusters"]
    rows = {row["name"]: row for row in cluster["workers"]}
    assert sorted(rows) == [f"multinode-hpc-{i}" for i in range(6)], rows
    assert {row["status"] for row in rows.values()} == {"running"}
    assert {row["queue_state"] for row in rows.values()} == {"RUNNING"}
    job_nodes = slurm.job_nodes()
    assert {row["job"]: row["node"] for row in rows.values()} == job_nodes
    assert Counter(job_nodes.values()) == dict.fromkeys(NODES, 2)  # LLN spreads them

    # The node status names is where the worker really runs: its address and hostname.
    facts = worker_processes()
    for name, row in rows.items():
        address = row["address"].split("//")[1].rsplit(":", 1)[0]
        assert slurm.node_at(address) == row["node"], row
        assert facts[name][1] == row["node"], (name, facts[name])

    table = cli("status")
    assert table.returncode == 0, table.stderr
    for name, row in rows.items():
        (line,) = [line for line in table.stdout.splitlines() if f" {name} " in line]
        assert row["node"] in line and row["job"] in line

    down = cli("down")
    assert down.returncode == 0, down.stderr
    assert slurm.wait_no_jobs() == []
    assert pids_gone([pid for pid, _ in facts.values()])
    assert workers_left(lab) == {}

