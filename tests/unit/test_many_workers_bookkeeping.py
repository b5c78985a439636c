"""Bookkeeping that stays flat with the worker count: which calls a point makes, and the
per-host sums of the capacity model (no timings asserted)."""

from __future__ import annotations

import math

import pandas as pd

from clusterbench.analysis.capacity import CapacityModel, WorkerCapacity
from clusterbench.report.plots import MAX_STRAGGLER_WORKERS, stragglers_figure
from clusterbench.runner import workerset


class Scheduler:
    """Stands in for a Client: the scheduler's worker table, and every broadcast made."""

    def __init__(self, count: int) -> None:
        self.workers = {f"tcp://w:{i}": {"name": f"w-{i}", "status": "running"}
                        for i in range(count)}
        self.broadcasts: list[list[str]] = []
        self.info_calls = 0

    def scheduler_info(self, n_workers: int = 5) -> dict:
        assert n_workers == -1, "every worker, not dask's default five"
        self.info_calls += 1
        return {"workers": {a: dict(w) for a, w in self.workers.items()}}

    def run(self, function, *args, workers=None):  # noqa: ANN001, ANN201
        self.broadcasts.append(list(workers))
        for address in workers:  # what the workers report back to the scheduler
            running = args[0]
            self.workers[address]["status"] = "running" if running else "paused"
        return {}


def names(count: int) -> list[str]:
    return [f"w-{i}" for i in range(count)]


def test_activate_tells_only_the_workers_whose_status_changes():
    client = Scheduler(256)
    planned = workerset.activate(client, names(16), timeout=5)
    assert list(planned) == names(16)
    assert len(client.broadcasts) == 1 and len(client.broadcasts[0]) == 240  # pause the rest
    client.broadcasts.clear()
    client.info_calls = 0
    workerset.activate(client, names(16), timeout=5)  # the same point again
    assert client.broadcasts == [] and client.info_calls == 1  # one scheduler call
    workerset.activate(client, names(256), timeout=5)
    assert [len(b) for b in client.broadcasts] == [240]  # resume only the paused ones


def test_release_resumes_only_paused_workers():
    client = Scheduler(64)
    workerset.activate(client, names(1), timeout=5)
    client.broadcasts.clear()
    workerset.release(client)
    assert [len(b) for b in client.broadcasts] == [63]
    client.broadcasts.clear()
    workerset.release(client)
    assert client.broadcasts == []


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
    activity = {f"w-{i}": {"tasks": 1, "busy_s": 0.1, "idle_end_s": i / 1000}
                for i in range(256)}
    row = {"workload": "montecarlo", "size": "tiny", "scheduler": "distributed",
           "workers": 256, "median": 1.0, "worker_activity": activity,
           "worker_names": list(activity)}
    figure = stragglers_figure(pd.DataFrame([row]))
    (ax,) = figure.axes
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert sorted(labels) == sorted(names(MAX_STRAGGLER_WORKERS))
    assert f"{MAX_STRAGGLER_WORKERS} last of 256 workers" in ax.get_title()
