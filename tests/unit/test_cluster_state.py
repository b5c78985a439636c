"""The daemon's state file as a typed, versioned :class:`ClusterState`."""

from __future__ import annotations

import json

import pytest

from clusterbench.cluster import lifecycle
from clusterbench.cluster.state import SCHEMA_VERSION, ClusterState, read, write
from clusterbench.errors import StateError

READY_STATE = ClusterState(
    "lab", "ready", inventory="/inv/lab.yml", pid=4242, session="ab12cd34", security="tls",
    tls_dir="/state/tls-lab-ab12cd34", scheduler_ssh="-p 2222 pi@10.0.0.12",
    address="tls://10.0.0.1:8786", dashboard="http://127.0.0.1:8787/status",
    workers=({"name": "pi1-0", "host": "pi1", "address": "tls://10.0.0.2:4000",
              "threads": 1, "memory": 10**9},),
    queue_jobs=({"job": "12", "host": "hpc", "launcher": "slurm", "spec": "c-hpc-0",
                 "workers": ["c-hpc-0"], "threads": 1},),
    failures={"ghost-0": "ghost: unreachable"},
    left_out=({"name": "ghost-0", "host": "ghost", "reason": "ghost: unreachable"},),
    local_pids=(101, 102),
)

# What a daemon wrote before the schema field existed (keys and shapes as they were).
OLD_FILE = {
    "pid": 4242, "cluster": "lab", "inventory": "/inv/lab.yml", "session": "ab12cd34",
    "security": "loopback", "tls_dir": None, "scheduler_ssh": None,
    "address": "tcp://127.0.0.1:8786", "dashboard": None,
    "workers": [{"name": "local-0", "host": "local", "address": "tcp://127.0.0.1:4000",
                 "threads": 1, "memory": None}],
    "queue_jobs": [], "failures": {}, "left_out": [], "local_pids": [101],
    "status": "ready",
}


def test_round_trip_keeps_every_field(tmp_path):
    path = tmp_path / "cluster-lab.json"
    write(path, READY_STATE)
    assert read(path) == READY_STATE
    assert json.loads(path.read_text())["schema"] == SCHEMA_VERSION
    down = READY_STATE.with_(leftovers={"pi2": ["could not check: timed out"]})
    assert ClusterState.from_json(down.to_json()) == down


def test_a_file_from_before_the_schema_field_is_read_as_schema_1(tmp_path):
    path = tmp_path / "cluster-lab.json"
    path.write_text(json.dumps(OLD_FILE))
    state = read(path)
    assert (state.schema, state.cluster, state.pid, state.local_pids) == (1, "lab", 4242, (101,))
    assert state.workers[0]["name"] == "local-0" and state.leftovers is None
    assert state["address"] == "tcp://127.0.0.1:8786"  # the dict-style read still works
    # The claim `up` wrote, and the old down file, are states too.
    claim = {"status": "starting", "cluster": "lab", "inventory": "/inv/lab.yml"}
    assert ClusterState.from_dict(claim).pid is None
    assert ClusterState.from_dict(OLD_FILE | {"leftovers": {}}).leftovers == {}


def test_a_newer_schema_is_refused_in_one_line(tmp_path):
    path = tmp_path / "cluster-lab.json"
    path.write_text(json.dumps(OLD_FILE | {"schema": SCHEMA_VERSION + 1, "new": 1}))
    with pytest.raises(StateError) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cluster state schema {SCHEMA_VERSION + 1} is newer")
    assert "\n" not in message


@pytest.mark.parametrize(("text", "why"), [
    ("", "not JSON"),
    ("{not json", "not JSON"),
    ("[1, 2]", "no cluster name"),
    (json.dumps({"pid": 1}), "no cluster name"),
    (json.dumps(OLD_FILE | {"colour": "blue"}), "unknown keys: colour"),
    (json.dumps(OLD_FILE | {"schema": 0}), "schema 0"),
])
def test_garbage_is_refused_in_one_line_naming_the_file(tmp_path, text, why):
    path = tmp_path / "cluster-lab.json"
    path.write_text(text)
    with pytest.raises(StateError) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a clusterbench cluster state") and why in message
    assert "\n" not in message


def test_status_and_up_refuse_a_garbage_state_file_with_its_name():
    path = lifecycle.state_file("lab")
    path.write_text("garbage")
    with pytest.raises(StateError, match=f"^{path}: not a clusterbench cluster state"):
        lifecycle.running_states()
    with pytest.raises(StateError, match=f"^{path}: not a clusterbench cluster state"):
        lifecycle.claim("lab", "/inv/lab.yml")
    path.unlink()


def test_a_missing_file_is_no_state(tmp_path):
    assert read(tmp_path / "cluster-none.json") is None
    assert lifecycle.claimed_state(tmp_path / "cluster-gone.json") == ClusterState("gone")


def test_attached_sweeps_name_single_machine_hosts_and_leave_queue_workers_to_the_scheduler():
    from clusterbench.cluster.lifecycle import worker_hosts
    from clusterbench.cluster.state import ClusterState

    row = {"address": "tcp://10.0.0.5:1", "threads": 1, "memory": None}
    state = ClusterState.from_json(ClusterState(
        "c", workers=({"name": "pi1-0", "host": "pi1", **row},
                      {"name": "hpc-0", "host": "hpc", **row}),
        queue_jobs=({"job": "7", "host": "hpc", "launcher": "slurm", "spec": "hpc-0",
                     "workers": ["hpc-0"], "threads": 1},)).to_json(), "state.json")
    assert worker_hosts(state) == {"pi1-0": "pi1"}  # hpc-0 keeps its node's address
    assert worker_hosts(None) == {}
