"""The Python API: what ``clusterbench up`` and ``clusterbench run`` do, callable from a
notebook or a script (the ``run`` command is a thin adapter over :func:`run_scenario`).

Examples
--------
>>> from clusterbench import Cluster, run_scenario
>>> with Cluster.up("inventories/local.yml") as cluster:  # doctest: +SKIP
...     run = run_scenario("scaling", cluster=cluster, workloads=["montecarlo"],
...                        size="tiny", schedulers=["synchronous", "distributed"],
...                        workers="1,2", repeats=2, results_dir="results")
>>> run.summary  # doctest: +SKIP
"""

from __future__ import annotations

from clusterbench.api.cluster import Cluster
from clusterbench.api.result import RunResult
from clusterbench.api.resume import resume_run
from clusterbench.api.sweep import run_scenario
from clusterbench.inventory.load import load_inventory
from clusterbench.runner.scenario import load_scenario

__all__ = ["Cluster", "RunResult", "load_inventory", "load_scenario", "resume_run",
           "run_scenario"]
