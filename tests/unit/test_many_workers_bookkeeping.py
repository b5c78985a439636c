"""Bookkeeping that stays flat with the worker count: which calls a point makes, and the
per-host sums of the capacity model (no timings asserted)."""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

from clusterbench.analysis.capacity import CapacityModel, WorkerCapacity
from clusterbench.report.plots import MAX_STRAGGLER_WORKERS, stragglers_figure
from clusterbench.runner import workerset


@pytest.fixture(scope="module")
def many():
    """A real scheduler with 32 in-process workers (LocalCluster names them 0 … 31)."""
    from distributed import Client, LocalCluster

    # No memory limit: the test plays the memory monitor (a real one resumes a worker it
    # did not see cause to pause).
    with LocalCluster(n_workers=32, processes=False, threads_per_worker=1, memory_limit=0,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(32)
        yield cluster, client


class Counting:
    """The client, counting the calls that reach the workers or the scheduler."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self.client, self.broadcasts, self.scheduler_calls = client, [], 0
        self.id = client.id

    def scheduler_info(self, n_workers: int = 5) -> dict:
        assert n_workers == -1, "every worker, not dask's default five"
        self.scheduler_calls += 1
        return self.client.scheduler_info(n_workers=n_workers)

    def run_on_scheduler(self, function, *args):  # noqa: ANN001, ANN201
        self.scheduler_calls += 1
        return self.client.run_on_scheduler(function, *args)

    def run(self, function, *args, workers=None):  # noqa: ANN001, ANN201
        self.broadcasts.append(list(workers))
        return self.client.run(function, *args, workers=workers)


def names(count: int) -> list[str]:
    return [str(i) for i in range(count)]


def statuses(client) -> dict[str, str]:  # noqa: ANN001
    return {str(w["name"]): w["status"]
            for w in client.scheduler_info(n_workers=-1)["workers"].values()}


def test_activate_pauses_on_the_scheduler_in_one_call_without_telling_workers(many):
    cluster, client = many
    counting = Counting(client)
    planned = workerset.activate(counting, names(4), timeout=5)
    assert list(planned) == names(4)
    assert statuses(client) == {str(i): "running" if i < 4 else "paused" for i in range(32)}
    assert counting.broadcasts == [] and counting.scheduler_calls == 2  # read, hold
    assert {w.status.name for w in cluster.workers.values()} == {"running"}  # not told
    # The scheduler hands tasks only to the 4: a real computation, its task stream read.
    cursor = workerset.task_cursor(client)
    assert sum(client.gather(client.map(lambda i: i * i, range(64)))) == sum(
        i * i for i in range(64))
    ran = set(workerset.executed_addresses(client, cursor))
    assert ran <= set(planned.values()) and ran
    counting.scheduler_calls = 0
    workerset.activate(counting, names(4), timeout=5)  # the same point again
    assert counting.scheduler_calls == 1 and counting.broadcasts == []
    workerset.activate(counting, names(32), timeout=5)
    assert set(statuses(client).values()) == {"running"} and counting.broadcasts == []


def test_a_worker_that_paused_itself_is_told_to_run_and_release_resumes_all(many):
    from distributed.core import Status

    cluster, client = many
    counting = Counting(client)
    workerset.activate(counting, names(1), timeout=5)
    itself = cluster.workers[2]
    # As its memory monitor would: the worker pauses and tells the scheduler.
    client.sync(_set_status, itself, Status.paused)
    _wait_scheduler_heard(cluster, itself.address, "paused")
    workerset.activate(counting, names(3), timeout=5)
    assert counting.broadcasts == [[itself.address]]  # only the one that paused itself
    assert itself.status == Status.running
    # One of the point's workers pauses itself, then its memory monitor resumes a worker
    # the sweep holds: the first is told to run, the second stays paused on the scheduler.
    chosen, held = cluster.workers[0], cluster.workers[9]
    client.sync(_set_status, chosen, Status.paused)
    _wait_scheduler_heard(cluster, chosen.address, "paused")
    client.sync(_set_status, held, Status.paused)
    client.sync(_set_status, held, Status.running)
    _wait_scheduler_heard(cluster, held.address, "running")
    assert cluster.scheduler.workers[held.address].status.name == "paused"
    counting.broadcasts.clear()
    workerset.activate(counting, names(3), timeout=5)
    assert counting.broadcasts == [[chosen.address]] and chosen.status == Status.running
    assert statuses(client) == {str(i): "running" if i < 3 else "paused" for i in range(32)}
    counting.broadcasts.clear()
    workerset.release(counting)
    assert set(statuses(client).values()) == {"running"} and counting.broadcasts == []
    workerset.release(counting)  # nothing paused: a single read
    assert counting.broadcasts == []


async def _set_status(worker, status):  # noqa: ANN001, ANN202 - on the workers' loop
    worker.status = status  # sends "worker-status-change" to the scheduler


def _wait_scheduler_heard(cluster, address: str, status: str) -> None:  # noqa: ANN001
    """Until the worker's message reached the scheduler (the status there may not change:
    the sweep holds it paused), as recorded by workerset's stream handler."""
    deadline = time.monotonic() + 10
    holds = cluster.scheduler._clusterbench_holds
    while holds["own"].get(address) != status:
        assert time.monotonic() < deadline, f"the scheduler never heard {address} {status}"
        time.sleep(0.01)


def test_capacity_shares_add_up_per_host_over_many_hosts():
    workers = {f"h{h}-{w}": WorkerCapacity(f"h{h}", 0.5, 0.25) for h in range(8)
               for w in range(32)}
    model = CapacityModel(workers=workers)
    chosen = [f"h{h}-{w}" for h in range(8) for w in range(4)]
    shares = model.shares(chosen)
    # each host: min(4 × 0.5 alone, 32 × 0.25 together) = 2.0, split among its 4 workers
    assert shares == [0.5] * len(chosen)
    assert math.isclose(sum(shares), model.of_set(chosen)) and model.of_set(chosen) == 16.0
    assert model.of_set(list(workers)) == 8 * 8.0  # saturated: together is the cap
    assert math.isnan(model.of_set(["unknown"]))


def test_a_straggler_chart_of_256_workers_shows_the_latest_finishers():
    activity = {name: {"tasks": 1, "busy_s": 0.1, "idle_end_s": i / 1000}
                for i, name in enumerate(names(256))}
    row = {"workload": "montecarlo", "size": "tiny", "scheduler": "distributed",
           "workers": 256, "median": 1.0, "worker_activity": activity,
           "worker_names": list(activity)}
    figure = stragglers_figure(pd.DataFrame([row]))
    (ax,) = figure.axes
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert sorted(labels) == sorted(names(MAX_STRAGGLER_WORKERS))
    assert f"{MAX_STRAGGLER_WORKERS} last of 256 workers" in ax.get_title()


def test_the_scheduler_side_function_loads_where_clusterbench_is_not_installed():
    """A cluster attached with --scheduler-address may run its scheduler without
    clusterbench: what run_on_scheduler sends must not import it."""
    import subprocess
    import sys

    import cloudpickle

    payload = cloudpickle.dumps(workerset._scheduler_holds())
    loader = ("import pickle, sys; sys.modules['clusterbench'] = None; "  # import fails
              "hold = pickle.loads(sys.stdin.buffer.read()); print(hold.__name__)")
    done = subprocess.run([sys.executable, "-c", loader], input=payload, capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "hold"
