"""A sweep killed with SIGKILL (no chance to clean up) does not leave the cluster it used
paused: the scheduler lets go of the sweep's holds when the sweep's client leaves, so the
workers outside the sweep's last point take work again (real scheduler, real workers,
the real CLI)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.integration

WORKERS = 4
#: In-process workers share this module: a task waiting here returns only once all four
#: run one at the same time, so the computation needs every worker (sent by reference).
_MEETING = threading.Barrier(WORKERS, timeout=60)


def _meet(i: int) -> int:
    _MEETING.wait()
    return i


def _statuses(client) -> dict[str, str]:  # noqa: ANN001
    return {str(w["name"]): w["status"]
            for w in client.scheduler_info(n_workers=-1)["workers"].values()}


def _wait_for(condition, seconds: float, what) -> None:  # noqa: ANN001
    """Poll *condition* up to *seconds*; *what()* says what was wrong at the deadline."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.1)


def test_sigkilled_sweep_leaves_every_worker_running(tmp_path):
    from distributed import Client, LocalCluster

    # In-process workers (they share the barrier below) on TCP loopback (the sweep is
    # another process).
    with LocalCluster(n_workers=WORKERS, processes=False, threads_per_worker=1,
                      protocol="tcp", host="127.0.0.1", memory_limit=0,
                      dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(WORKERS)
        # Points 1 and 2 only, many repeats: the outside workers stay held while it runs.
        run = subprocess.Popen(
            [sys.executable, "-m", "clusterbench", "run", "scaling", "--size", "tiny",
             "--workloads", "montecarlo", "--schedulers", "distributed", "--workers", "1,2",
             "--repeats", "200", "--results-dir", str(tmp_path / "results"),
             "--scheduler-address", cluster.scheduler_address],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        try:
            _wait_for(lambda: run.poll() is not None or "paused" in _statuses(client).values(),
                      240, lambda: "the sweep never paused a worker")
            assert run.poll() is None, run.communicate()[1]
            held = [name for name, status in _statuses(client).items() if status == "paused"]
            assert len(held) >= WORKERS - 2
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait(timeout=30)
        _wait_for(lambda: set(_statuses(client).values()) == {"running"}, 30,
                  lambda: f"workers still paused after the sweep died: {_statuses(client)}")
        # And they take work again: a computation that keeps all four busy lands on all.
        futures = client.map(_meet, range(WORKERS), pure=False)
        assert sorted(client.gather(futures)) == list(range(WORKERS))
        where = client.who_has(futures)
        assert len({address for addresses in where.values() for address in addresses}) \
            == WORKERS
