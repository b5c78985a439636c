"""Job logs of queue launchers: default directory, finding a job's files, tails in `up`'s
error and `status`'s rows, pruning older sessions (pure apart from files under tmp)."""

from __future__ import annotations

import json

import dask
import pytest

from clusterbench.cluster.state import ClusterState
from clusterbench.cluster.status import worker_rows
from clusterbench.launchers.base import SpecContext
from clusterbench.launchers.jobqueue import SGE, SLURM, JobState, QueueHost, pending_error
from clusterbench.launchers.jobqueue.logs import job_log_files, log_root, prune_logs
from clusterbench.osutil import state_root

CONTEXT = SpecContext(cluster="lab", session="s1")


def _host(**fields: object) -> QueueHost:
    return QueueHost(name="hpc", launcher="slurm", queue="debug", **fields)


def test_jobs_write_to_the_sessions_log_directory_by_default():
    options = SLURM.job_options(_host(), CONTEXT)
    assert options["log_directory"] == str(state_root() / "logs" / "lab" / "s1")
    # No session (a pure spec): nothing to group logs by, dask-jobqueue's default applies.
    assert "log_directory" not in SLURM.job_options(_host(), SpecContext(cluster="lab"))


def test_inventory_and_dask_config_log_directory_win(tmp_path):
    assert SLURM.job_options(_host(log_directory="/site/logs"), CONTEXT)["log_directory"] \
        == "/site/logs"
    with dask.config.set({"jobqueue.slurm.log-directory": str(tmp_path / "cfg")}):
        assert SLURM.job_options(_host(), CONTEXT)["log_directory"] == str(tmp_path / "cfg")


def test_dry_run_scripts_name_the_directory_but_leave_none_behind():
    (script,) = SGE.job_scripts(QueueHost(name="grid", launcher="sge", queue="q"), CONTEXT)
    assert f"#$ -o {state_root() / 'logs' / 'lab' / 's1'}/" in script
    assert not log_root().exists()


@pytest.mark.parametrize("name", [
    "cb-hpc-s1-12.out", "cb-hpc-s1-12.err",  # SLURM
    "cb-grid-s1.o12", "cb-grid-s1.e12",  # SGE, PBS
    "lab-hpc-0-12.out",  # LSF
    "worker-12.out",  # HTCondor (job id "12" as ClusterId.ProcId would be "12.0")
])
def test_each_systems_file_name_is_found_by_job_id(tmp_path, name):
    (tmp_path / name).write_text("x")
    for other in ("cb-hpc-s1-112.out", "cb-hpc-s1-120.err", "cb-grid-s1.o121", "slurm-12.txt"):
        (tmp_path / other).write_text("x")
    assert [p.name for p in job_log_files(tmp_path, "12")] == [name]


def test_pending_error_is_one_line_with_each_jobs_log_tail():
    states = {"12": JobState("RUNNING", "", "vm"), "13": JobState("PENDING", "Resources", "")}
    logs = {"12": "log /l/a-12.err: 'x | y'", "14": "log /l/a-14.err: 'boom'"}
    text = str(pending_error(_host(), states, 30, ["12", "13", "14", "15"], logs))
    assert "\n" not in text
    assert "job 12 RUNNING on vm [log /l/a-12.err: 'x | y']" in text
    assert "job 13 PENDING (Resources), " in text
    assert "job 14 left the queue [log /l/a-14.err: 'boom']" in text
    assert "job 15 left the queue (see its log)" in text


def test_pending_reads_the_jobs_log(monkeypatch):
    directory = state_root() / "logs" / "lab" / "s1"
    directory.mkdir(parents=True)
    (directory / "cb-lab-s1-7.out").write_text("")
    (directory / "cb-lab-s1-7.err").write_text("start\n\n" + "x" * 500 + "\nKilledWorker\n")
    monkeypatch.setattr(type(SLURM), "job_state", lambda self, host, ids: {})
    text = SLURM.pending(_host(), ["7"], 10)
    assert text is not None and f"job 7 left the queue [log {directory}/cb-lab-s1-7.err: " in text
    assert "'start | " in text and "… | KilledWorker'" in text


def test_down_keeps_the_last_session_and_a_running_one():
    root = state_root()
    for session in ("old", "live", "s1"):
        (root / "logs" / "lab" / session).mkdir(parents=True)
        (root / "logs" / "lab" / session / f"cb-lab-{session}-1.out").write_text("x")
    (root / "logs" / "other" / "old").mkdir(parents=True)
    (root / "cluster-lab.json").write_text(json.dumps({"cluster": "lab", "session": "live"}))
    removed = prune_logs("s1")
    assert removed == [root / "logs" / "lab" / "old"]
    assert sorted(p.name for p in (root / "logs" / "lab").iterdir()) == ["live", "s1"]
    assert (root / "logs" / "other" / "old").is_dir()  # another cluster's logs are its own


def test_status_rows_name_the_log_of_unregistered_workers_only():
    state = ClusterState("lab", queue_jobs=(
        {"job": "12", "host": "hpc", "launcher": "slurm", "spec": "c-hpc-0",
         "workers": ["c-hpc-0"], "threads": 1},
        {"job": "13", "host": "hpc", "launcher": "slurm", "spec": "c-hpc-1",
         "workers": ["c-hpc-1"], "threads": 1}))
    registered = [{"name": "c-hpc-0", "host": "hpc", "address": "tcp://a:1", "threads": 1,
                   "memory": 1, "status": "running"}]
    logs = {"12": ("/l/12.err", ["fine"]), "13": ("/l/13.err", ["a", "boom"])}
    queue = {"12": JobState("RUNNING", "", "vm"), "13": JobState("RUNNING", "", "vm")}
    rows = {row["name"]: row for row in worker_rows(state, registered, queue, logs)}
    assert (rows["c-hpc-0"]["log"], rows["c-hpc-0"]["log_tail"]) == (None, [])
    assert (rows["c-hpc-1"]["log"], rows["c-hpc-1"]["log_tail"]) == ("/l/13.err", ["a", "boom"])


def test_sge_qstat_as_gridengine_8_1_9_prints_it():
    """Lines captured from Debian's gridengine 8.1.9 (tests/fixtures/sge.py)."""
    out = (
        "job-ID  prior   name       user         state submit/start at     queue"
        "                          slots ja-task-ID \n" + "-" * 113 + "\n"
        "      1 0.50000 cb-grid-0a root         r     11/30/2026 11:43:43 cbq@vm"
        "                             1        \n"
        "      3 0.50000 cb-grid-0a root         qw    11/30/2026 11:45:16"
        "                                   64        \n"
        "      4 0.50000 cb-grid-0a root         Eqw   11/30/2026 11:45:17"
        "                                    1        \n"
    )
    assert SGE.status.parse(out) == {
        "1": JobState("RUNNING", "", "vm"),
        "3": JobState("PENDING", "", ""),
        "4": JobState("ERROR", "error state: see qstat -j", ""),
    }
