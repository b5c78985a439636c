"""The Python API (README "Python API"): a cluster started in-process, a run on it, the
summary as a DataFrame, and everything stopped when the ``with`` block ends."""

from __future__ import annotations

import time

import psutil
import pytest

from clusterbench import Cluster, load_inventory, load_scenario, run_scenario
from clusterbench.errors import ScenarioError
from clusterbench.inventory.default import default_inventory_path

#: multiprocessing's helpers (the Nannies start workers with it) live as long as this
#: interpreter, whoever used them: they are not the cluster's.
INTERPRETER_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _children() -> list[psutil.Process]:
    """This process's live children but multiprocessing's own helpers."""
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            helper = any(h in " ".join(child.cmdline()) for h in INTERPRETER_HELPERS)
            if child.status() != psutil.STATUS_ZOMBIE and not helper:
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def _no_children_left(seconds: float = 10.0) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := _children()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_the_readme_example_runs_on_the_local_cluster_and_stops_it(tmp_path):
    before = {p.pid for p in _children()}
    with Cluster.up(default_inventory_path()) as cluster:
        run = run_scenario("scaling", cluster=cluster, workloads=["montecarlo"], size="tiny",
                           schedulers=["synchronous", "distributed"], workers="1,2",
                           repeats=2, results_dir=tmp_path)
        assert cluster.client is not None  # the run left the given cluster running
    assert run.directory.is_dir() and run.directory.parent == tmp_path
    assert (run.directory / "records.jsonl").is_file()
    assert set(run.summary["scheduler"]) == {"synchronous", "distributed"}
    assert run.records and all(r.verified for r in run.records)
    assert run.failed == 0 and run.exit_code == 0
    left = [p for p in _no_children_left() if p.pid not in before]
    assert not left, f"left running after Cluster.up closed: {[p.cmdline() for p in left]}"


def test_a_bad_workload_is_one_line_before_any_cluster_starts(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        run_scenario(load_scenario("scaling"), workloads="nosuchworkload", size="tiny",
                     results_dir=tmp_path)
    assert "nosuchworkload" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not list(tmp_path.iterdir())  # no run directory either


def test_load_inventory_is_exported():
    assert load_inventory(default_inventory_path()).total_workers >= 1
