"""`up`/`status` show job id, node and the live queue state, against a real single-node SLURM."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.fixtures.slurm import slurm_inventory
from tests.helpers import ROOT, cli, stop_any_cluster

pytestmark = [pytest.mark.integration, pytest.mark.root]


def table(stdout: str) -> dict[str, dict[str, str]]:
    """The worker table rich printed: ``{worker: {column: cell}}``."""
    header = next(line for line in stdout.splitlines() if line.startswith("┃"))
    columns = [cell.strip() for cell in header.strip("┃").split("┃")]
    rows = [[cell.strip() for cell in line.strip("│").split("│")]
            for line in stdout.splitlines() if line.startswith("│")]
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


@pytest.fixture(autouse=True)
def down_after(slurm_cluster):
    yield
    stop_any_cluster()
    assert slurm_cluster.wait_no_jobs() == []


def _assert_running_jobs(rows: dict[str, dict[str, str]], slurm) -> None:
    """Both SLURM workers carry the job ids squeue shows, RUNNING, on the node."""
    queued = slurm.jobs()
    jobs = {name: row for name, row in rows.items() if name.startswith("hpc-hpc-")}
    assert sorted(jobs) == ["hpc-hpc-0", "hpc-hpc-1"], rows
    assert sorted(row["job"] for row in jobs.values()) == sorted(queued), (rows, queued)
    assert {row["queue state"] for row in jobs.values()} == {"RUNNING"}
    assert {row["node"] for row in jobs.values()} == {slurm.node}
    assert {row["status"] for row in jobs.values()} == {"running"}


def test_up_and_status_show_job_node_and_queue_state(slurm_cluster, tmp_path):
    up = cli("up", str(slurm_inventory(tmp_path, slurm_cluster)))
    assert up.returncode == 0, up.stderr
    _assert_running_jobs(table(up.stdout), slurm_cluster)

    status = cli("status")
    assert status.returncode == 0, status.stderr
    _assert_running_jobs(table(status.stdout), slurm_cluster)

    assert cli("down").returncode == 0
    assert slurm_cluster.wait_no_jobs() == []


def test_status_of_mixed_cluster_shows_local_rows_without_job(slurm_cluster, tmp_path):
    up = cli("up", str(slurm_inventory(tmp_path, slurm_cluster, local=1)))
    assert up.returncode == 0, up.stderr
    status = cli("status")
    assert status.returncode == 0, status.stderr
    rows = table(status.stdout)
    assert list(rows) == ["laptop-0", "hpc-hpc-0", "hpc-hpc-1"], rows
    local = rows["laptop-0"]
    assert (local["host"], local["status"], local["job"], local["node"], local["queue state"]) \
        == ("laptop", "running", "-", "-", "-")
    _assert_running_jobs(rows, slurm_cluster)


def test_status_while_up_waits_shows_pending_jobs_with_reason(slurm_cluster, tmp_path):
    # More CPUs per task than the node has: sbatch accepts it, SLURM keeps it pending.
    path = slurm_inventory(tmp_path, slurm_cluster, job_extra_directives=["--cpus-per-task=64"])
    up = subprocess.Popen([sys.executable, "-m", "clusterbench", "up", str(path),
                           "--timeout", "300"], cwd=ROOT, env=os.environ.copy(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        rows = _wait_for_pending(up)
        reasons = dict(line.split(maxsplit=1) for line in slurm_cluster.run(
            "squeue", "--noheader", "-o", "%i %r").stdout.splitlines())
        assert sorted(row["job"] for row in rows.values()) == sorted(reasons)
        for row in rows.values():
            assert row["queue state"] == f"PENDING ({reasons[row['job']]})", row
            assert (row["status"], row["address"], row["node"]) == ("not registered", "-", "-")

        down = cli("down")
        assert down.returncode == 0, down.stderr
        _, stderr = up.communicate(timeout=120)
        assert up.returncode == 3
        assert "stopped by 'clusterbench down'" in stderr.strip().splitlines()[-1]
        assert slurm_cluster.wait_no_jobs() == []
    finally:
        if up.poll() is None:
            up.kill()  # by the PID this test started
            up.wait(10)


def _wait_for_pending(up: subprocess.Popen, timeout: float = 120) -> dict[str, dict[str, str]]:
    """Poll `status` until both jobs are listed with a pending reason."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        assert up.poll() is None, up.communicate()
        last = cli("status")
        if last.returncode == 0 and "hpc-hpc-" in last.stdout:
            rows = table(last.stdout)
            if len(rows) == 2 and all("(" in row["queue state"] for row in rows.values()):
                return rows
        time.sleep(0.5)
    raise AssertionError(f"no pending jobs in status: {last and last.stdout + last.stderr}")
