"""`clusterbench up/status/down` against a real single-host Grid Engine (qmaster + execd)."""

from __future__ import annotations

import time

import pytest

from clusterbench.cluster.lifecycle import state_dir
from tests.fixtures.sge import sge_inventory
from tests.helpers import cli, stop_any_cluster
from tests.integration.test_slurm_status import table

pytestmark = [pytest.mark.integration, pytest.mark.root]


@pytest.fixture(autouse=True)
def down_after(sge_cluster):
    yield
    stop_any_cluster()
    assert sge_cluster.wait_no_jobs() == []


def _assert_running_jobs(rows: dict[str, dict[str, str]], sge,  # noqa: ANN001
                         states: frozenset[str] = frozenset({"RUNNING"})) -> None:
    """Both SGE workers carry the job ids qstat lists, in *states*, on this host."""
    queued = sge.jobs()
    jobs = {name: row for name, row in rows.items() if name.startswith("grid-grid-")}
    assert sorted(jobs) == ["grid-grid-0", "grid-grid-1"], rows
    assert sorted(row["job"] for row in jobs.values()) == sorted(queued), (rows, queued)
    assert {row["queue state"] for row in jobs.values()} <= states, rows
    assert {row["node"] for row in jobs.values()} == {sge.host}
    assert {row["status"] for row in jobs.values()} == {"running"}


def _past_transfer(sge, seconds: float = 30.0) -> list[str]:  # noqa: ANN001
    """qstat's job states once none reads "t" (transferring), or as they are at the deadline."""
    deadline = time.monotonic() + seconds
    states = sorted(sge.jobs().values())
    while "t" in states and time.monotonic() < deadline:
        time.sleep(0.5)
        states = sorted(sge.jobs().values())
    return states


def test_up_status_down_on_sge(sge_cluster, tmp_path):
    up = cli("up", str(sge_inventory(tmp_path, sge_cluster)))
    assert up.returncode == 0, up.stdout + up.stderr
    # qstat can still read "t" (transferring) for a moment after a job's worker runs
    # (execd reports to qmaster later; seen in full runs, for up's table and for qstat).
    assert _past_transfer(sge_cluster) == ["r", "r"], sge_cluster.jobs()
    # up's table is qstat's word when the last worker registered: it may say CONFIGURING;
    # status, asked once qstat says "r r", must say RUNNING.
    _assert_running_jobs(table(up.stdout), sge_cluster, frozenset({"RUNNING", "CONFIGURING"}))

    status = cli("status")
    assert status.returncode == 0, status.stderr
    _assert_running_jobs(table(status.stdout), sge_cluster)

    down = cli("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert sge_cluster.wait_no_jobs() == []
    assert not list(state_dir().glob("cluster-*.json"))


def test_bad_queue_carries_qsub_error_in_one_line(sge_cluster, tmp_path):
    up = cli("up", str(sge_inventory(tmp_path, sge_cluster, queue="nosuchqueue")))
    assert up.returncode == 3, up.stdout + up.stderr
    line = up.stderr.strip().splitlines()[-1]
    print(f"up's error: {line}")
    assert 'unknown queue "nosuchqueue"' in line and "qsub" in line, up.stderr
    assert "Traceback" not in up.stderr
    assert not sge_cluster.jobs()
    assert not list(state_dir().glob("cluster-*.json"))


def test_job_that_never_starts_times_out_with_its_state_and_is_deleted(sge_cluster, tmp_path):
    # 64 slots of PE smp in a queue of 8: qsub accepts it, the scheduler never starts it.
    path = sge_inventory(tmp_path, sge_cluster, job_extra_directives=["-pe smp 64"])
    up = cli("up", str(path), "--timeout", "8")
    assert up.returncode == 3, up.stdout + up.stderr
    line = up.stderr.strip().splitlines()[-1]
    assert "did not register" in line and "PENDING" in line, line
    assert "Traceback" not in up.stderr
    assert sge_cluster.wait_no_jobs() == []


def test_cancelling_a_job_that_already_ended_is_not_an_error(sge_cluster):
    """qdel of an ended job says 'denied: job "N" does not exist' (on stdout): already done."""
    from clusterbench.launchers.jobqueue import SGE, QueueHost

    submitted = sge_cluster.run("qsub", "-b", "y", "-o", "/dev/null", "-j", "y", "/bin/true")
    job = submitted.stdout.split()[2]  # Your job 7 ("true") has been submitted
    assert sge_cluster.wait_no_jobs() == []
    SGE.cancel(QueueHost(name="grid", launcher="sge", queue=sge_cluster.queue), [job])
