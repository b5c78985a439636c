"""Parsing squeue's answer and joining it with registered workers for ``status`` (pure)."""

from __future__ import annotations

from clusterbench.cluster.state import ClusterState
from clusterbench.cluster.status import GONE, worker_rows
from clusterbench.launchers.jobqueue import SLURM, JobState

parse = SLURM.status.parse


def test_squeue_command_asks_for_id_state_reason_node_of_our_jobs_only() -> None:
    argv = SLURM.status.command(["12", "13"])
    assert argv[0] == "squeue" and "--noheader" in argv
    assert argv[argv.index("-o") + 1] == "%i|%T|%r|%N"
    assert argv[-2:] == ["-j", "12,13"]


def test_running_job_has_node_and_no_reason() -> None:
    assert parse("12|RUNNING|None|vm\n") == {"12": JobState("RUNNING", "", "vm")}


def test_pending_job_has_reason_and_no_node() -> None:
    out = "13|PENDING|Resources|\n14|PENDING|ReqNodeNotAvail, Reserved for maintenance|(null)\n"
    assert parse(out) == {
        "13": JobState("PENDING", "Resources", ""),
        "14": JobState("PENDING", "ReqNodeNotAvail, Reserved for maintenance", ""),
    }


def test_node_lists_array_ids_and_other_states_are_kept_verbatim() -> None:
    out = (
        "20_[1-3]|PENDING|Priority|\n"
        "20_4|RUNNING|None|n[1-2]\n"
        "21|COMPLETING|NonZeroExitCode|n3\n"
    )
    assert parse(out) == {
        "20_[1-3]": JobState("PENDING", "Priority", ""),
        "20_4": JobState("RUNNING", "", "n[1-2]"),
        "21": JobState("COMPLETING", "NonZeroExitCode", "n3"),
    }


def test_blank_header_and_foreign_lines_are_ignored() -> None:
    out = "\nJOBID|STATE|REASON|NODELIST|EXTRA\n  15 | RUNNING | None | vm \nnoise\n"
    assert parse(out) == {"15": JobState("RUNNING", "", "vm")}
    assert parse("") == {}


STATE = ClusterState(
    "lab", queue_jobs=(
        {"job": "12", "host": "hpc", "launcher": "slurm", "spec": "c-hpc-0",
         "workers": ["c-hpc-0"], "threads": 1},
        {"job": "13", "host": "hpc", "launcher": "slurm", "spec": "c-hpc-1",
         "workers": ["c-hpc-1"], "threads": 1},
        {"job": "14", "host": "hpc", "launcher": "slurm", "spec": "c-hpc-2",
         "workers": ["c-hpc-2-0", "c-hpc-2-1"], "threads": 2},
    ))


def _worker(name: str, host: str) -> dict:
    return {"name": name, "host": host, "address": f"tcp://{name}:1", "threads": 1,
            "memory": 10**9, "status": "running"}


def test_rows_join_registered_workers_with_their_jobs() -> None:
    queue = {"12": JobState("RUNNING", "", "vm"), "13": JobState("PENDING", "Resources", ""),
             "14": JobState("RUNNING", "", "vm")}
    rows = worker_rows(STATE, [_worker("laptop-0", "laptop"), _worker("c-hpc-0", "hpc")], queue)
    by_name = {row["name"]: row for row in rows}
    assert [row["name"] for row in rows] == [
        "laptop-0", "c-hpc-0", "c-hpc-1", "c-hpc-2-0", "c-hpc-2-1"]
    assert (by_name["laptop-0"]["job"], by_name["laptop-0"]["queue_state"]) == (None, None)
    assert by_name["c-hpc-0"] == _worker("c-hpc-0", "hpc") | {
        "job": "12", "node": "vm", "queue_state": "RUNNING"}
    pending = by_name["c-hpc-1"]
    assert (pending["status"], pending["address"], pending["job"], pending["node"],
            pending["queue_state"]) == ("not registered", "-", "13", None, "PENDING (Resources)")
    # Running but not connected (dask-jobqueue#391): shown, with the node it runs on.
    assert by_name["c-hpc-2-1"]["queue_state"] == "RUNNING"
    assert by_name["c-hpc-2-1"]["threads"] == 2


def test_a_job_the_queue_no_longer_lists_says_so() -> None:
    rows = worker_rows(STATE, [_worker("c-hpc-0", "hpc")], {})
    assert {row["queue_state"] for row in rows} == {GONE}


def test_no_queue_jobs_means_plain_rows() -> None:
    rows = worker_rows(ClusterState("lab"), [_worker("laptop-0", "laptop")], {})
    assert rows == [_worker("laptop-0", "laptop") | {"job": None, "node": None,
                                                     "queue_state": None}]
