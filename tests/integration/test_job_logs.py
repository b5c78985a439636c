"""Job output in clusterbench's state directory, not the user's working directory, on real
SLURM and Grid Engine: the log directory holds it, a never-connecting or failed job's error
and ``status`` show its log's last lines, and ``down`` prunes older sessions' logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clusterbench.cluster.lifecycle import state_dir
from clusterbench.osutil import state_root
from tests.fixtures.sge import sge_inventory
from tests.fixtures.slurm import slurm_inventory
from tests.helpers import stop_any_cluster

pytestmark = [pytest.mark.integration, pytest.mark.root]
MARKER = "cb-marker-this-job-never-starts-its-worker"


def cli_in(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m clusterbench ARGS`` run from *cwd*, as a user in their own directory."""
    return subprocess.run([sys.executable, "-m", "clusterbench", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


def _session() -> tuple[str, list[str]]:
    """The running cluster's session and job ids, from its state file."""
    state = json.loads(next(state_dir().glob("cluster-*.json")).read_text())
    return state["session"], [str(job["job"]) for job in state["queue_jobs"]]


def _up_down_in(work: Path, inventory: Path, cluster: str) -> tuple[Path, list[str]]:
    """`up` then `down` from *work*; the session's log directory and the job ids."""
    up = cli_in(work, "up", str(inventory))
    assert up.returncode == 0, up.stdout + up.stderr
    session, jobs = _session()
    assert len(jobs) == 2
    down = cli_in(work, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    return state_root() / "logs" / cluster / session, jobs


@pytest.fixture
def work(tmp_path):
    """An empty working directory, checked empty again by the test."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def down_after_slurm(slurm_cluster):
    yield
    stop_any_cluster()
    assert slurm_cluster.wait_no_jobs() == []


@pytest.fixture
def down_after_sge(sge_cluster):
    yield
    stop_any_cluster()
    assert sge_cluster.wait_no_jobs() == []


@pytest.mark.usefixtures("down_after_slurm")
def test_slurm_logs_in_state_dir_and_down_prunes_older_sessions(slurm_cluster, tmp_path, work):
    inventory = slurm_inventory(tmp_path, slurm_cluster, log_directory=None)
    first, first_jobs = _up_down_in(work, inventory, "hpc")
    assert list(work.iterdir()) == [], "job output left in the working directory"
    assert slurm_cluster.wait_no_jobs() == []
    # The last session's logs are kept: one .out and one .err per job, the worker's log in .err.
    for job in first_jobs:
        names = sorted(p.name for p in first.iterdir() if p.name.endswith(f"-{job}.err")
                       or p.name.endswith(f"-{job}.out"))
        assert len(names) == 2, sorted(p.name for p in first.iterdir())
    errs = [p.read_text() for p in first.glob("*.err")]
    assert all("Registered to" in text for text in errs), errs

    second, _ = _up_down_in(work, inventory, "hpc")
    assert list(work.iterdir()) == []
    assert second.is_dir() and any(second.iterdir())
    assert not first.exists(), "the older session's logs were not pruned by down"
    assert sorted(p.name for p in second.parent.iterdir()) == [second.name]


@pytest.mark.usefixtures("down_after_slurm")
def test_slurm_inventory_log_directory_wins(slurm_cluster, tmp_path, work):
    inventory = slurm_inventory(tmp_path, slurm_cluster)  # log_directory: tmp_path/logs
    _, jobs = _up_down_in(work, inventory, "hpc")
    assert list(work.iterdir()) == []
    names = [p.name for p in (tmp_path / "logs").iterdir()]
    assert all(any(name.endswith(f"-{job}.err") for name in names) for job in jobs), names
    assert not (state_root() / "logs").exists() or not any((state_root() / "logs").iterdir())


@pytest.mark.usefixtures("down_after_slurm")
def test_never_connecting_slurm_job_shows_its_log_in_status_and_error(slurm_cluster, tmp_path,
                                                                      work):
    """A job that runs but never starts its worker (dask-jobqueue#391's classic): `status`
    names its log with the last lines, `up`'s timeout error too, and the job is cancelled."""
    inventory = slurm_inventory(tmp_path, slurm_cluster, log_directory=None, jobs=1,
                                job_script_prologue=[f"echo {MARKER}", "sleep 300"])
    up = subprocess.Popen([sys.executable, "-m", "clusterbench", "up", str(inventory),
                           "--timeout", "25"], cwd=work, env=os.environ.copy(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        row = _wait_for_log_row(up, work)
        assert row["status"] == "not registered" and row["queue_state"] == "RUNNING", row
        assert MARKER in row["log_tail"], row
        assert Path(row["log"]).parent.parent == state_root() / "logs" / "hpc"
        text = cli_in(work, "status")
        assert text.returncode == 0, text.stderr
        assert f"hpc-hpc-0: log {row['log']}" in text.stdout and MARKER in text.stdout
        _, stderr = up.communicate(timeout=120)
    finally:
        if up.poll() is None:
            up.kill()  # by the PID this test started
            up.wait(10)
    assert up.returncode == 3, stderr
    line = stderr.strip().splitlines()[-1]
    print(f"status:\n{text.stdout}\nup's error: {line}")
    assert "did not register" in line and "RUNNING" in line, line
    assert f"[log {row['log']}: '{MARKER}']" in line, line
    assert slurm_cluster.wait_no_jobs() == []
    assert list(work.iterdir()) == []


def _wait_for_log_row(up: subprocess.Popen, work: Path, timeout: float = 60) -> dict:
    """Poll `status --json` until the (one) queue worker's row names a log with lines."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        assert up.poll() is None, up.communicate()
        last = cli_in(work, "status", "--json")
        if last.returncode == 0:
            rows = json.loads(last.stdout)["clusters"][0]["workers"]
            if rows and rows[0].get("log") and rows[0]["log_tail"]:
                return rows[0]
        time.sleep(0.5)
    raise AssertionError(f"no log in status: {last and last.stdout + last.stderr}")


@pytest.mark.usefixtures("down_after_sge")
def test_sge_logs_in_state_dir_not_working_directory(sge_cluster, tmp_path, work):
    first, jobs = _up_down_in(work, sge_inventory(tmp_path, sge_cluster), "grid")
    assert list(work.iterdir()) == [], "job output left in the working directory"
    assert sge_cluster.wait_no_jobs() == []
    names = sorted(p.name for p in first.iterdir())
    assert all(any(name.endswith(f".o{job}") for name in names) for job in jobs), names
    assert all("Registered to" in p.read_text() for p in first.iterdir())

    second, _ = _up_down_in(work, sge_inventory(tmp_path, sge_cluster), "grid")
    assert not first.exists() and sorted(p.name for p in second.parent.iterdir()) == [second.name]


@pytest.mark.usefixtures("down_after_sge")
def test_failed_sge_job_error_names_its_log_tail(sge_cluster, tmp_path, work):
    """A job that exits at once (its python does not exist): it leaves the queue, and up's
    timeout error names its log with the shell's complaint."""
    inventory = sge_inventory(tmp_path, sge_cluster, jobs=1, python="/nonexistent/python3")
    up = cli_in(work, "up", str(inventory), "--timeout", "10")
    assert up.returncode == 3, up.stdout + up.stderr
    line = up.stderr.strip().splitlines()[-1]
    print(f"up's error: {line}")
    assert "left the queue [log " in line and "/nonexistent/python3" in line, line
    assert str(state_root() / "logs" / "grid") in line, line
    assert sge_cluster.wait_no_jobs() == []
    assert list(work.iterdir()) == []
