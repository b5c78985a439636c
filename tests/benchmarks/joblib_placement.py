"""What does dask's default placement do for joblib-driven scikit-learn on mismatched hosts,
and do joblib's own knobs help?

Run (root, Linux, sshd installed; say the load average with the numbers)::

    python -m tests.benchmarks.joblib_placement [--spec fast:1x0.8cpu,slow:2x0.2cpu]
        [--trees 600] [--repeats 3] [--out docs/joblib_placement]

One virtual lab, its whole cluster started once (``clusterbench.api.Cluster.up``), and the
scikit-learn code a user writes, unchanged, under ``parallel_config(backend="dask")``:

* ``forest``: ``RandomForestClassifier(n_estimators=--trees)`` on the digits (75 % split);
* ``gridsearch``: ``GridSearchCV(SVC())`` over ``C`` × ``kernel`` × ``shrinking`` (16
  candidates, cv=3: 48 fits) on ``make_classification(n_samples=2000)``.

Variants, run interleaved (one repeat of each per round):

* ``fast alone``: every task restricted to the fast host (``workers=[fast]``,
  ``allow_other_workers=False``, passed through joblib to ``client.submit``): the time to
  beat;
* ``default``: all hosts, joblib's and dask's defaults;
* ``pre_dispatch=all`` (grid search only: ``GridSearchCV(pre_dispatch="all")``, the one
  dispatch knob scikit-learn exposes): every fit handed to dask at once, so the scheduler
  rather than joblib's 2×n_jobs window decides placement.

``batch_size`` is not a variant: scikit-learn builds its ``joblib.Parallel`` inside the
estimator (forest and search alike), and ``parallel_config`` does not carry
``batch_size``, so a user cannot set it without rewriting scikit-learn's code.  Worker
resources are not a variant either: they need every worker started with a resource count,
which the lab's workers are not.

Printed per workload and variant: median seconds, speedup over ``fast alone``, the tasks
and compute seconds per host and the longest idle-at-end (the straggler view of
``clusterbench.runner.workerset.worker_activity``, from the task stream).  The answers
(forest accuracy, best grid parameters) must be identical across variants.  The lab is
always torn down; only its own addresses and loopback are used.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from clusterbench.lab import Lab, down
from clusterbench.lab.inventory import inventory_data
from tests.fixtures.lab import free_subnet, unique_name

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = "fast:1x0.8cpu,slow:2x0.2cpu"
GRID = {"C": [0.1, 1.0, 10.0, 100.0], "kernel": ["rbf", "linear"], "shrinking": [True, False]}


def forest(trees: int) -> Callable[[dict], Any]:
    """The forest fit + score; returns the test accuracy."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=0.75, random_state=0)

    def run(_: dict) -> float:
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(n_estimators=trees, random_state=0)
        return float(model.fit(X_train, y_train).score(X_test, y_test))
    return run


def gridsearch(samples: int = 2000) -> Callable[[dict], Any]:
    """The SVC grid search; returns its best parameters and score."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=samples, n_features=20, random_state=0)

    def run(options: dict) -> tuple:
        from sklearn.model_selection import GridSearchCV
        from sklearn.svm import SVC

        search = GridSearchCV(SVC(), GRID, cv=3, **options).fit(X, y)
        return tuple(sorted(search.best_params_.items())), round(search.best_score_, 12)
    return run


def variants(fast: str) -> dict[str, list[tuple[str, dict, dict]]]:
    """Workload → (variant, dask submit options, estimator options)."""
    alone = {"workers": [fast], "allow_other_workers": False}
    return {"forest": [("fast alone", alone, {}), ("default", {}, {})],
            "gridsearch": [("fast alone", alone, {}), ("default", {}, {}),
                           ("pre_dispatch=all", {}, {"pre_dispatch": "all"})]}


def timed(client: Any, run: Callable[[dict], Any], submit: dict, options: dict,
          names: dict[str, str]) -> dict:
    """One repeat: seconds, answer and the straggler view per worker name."""
    from joblib import parallel_config

    from clusterbench.runner import workerset

    cursor = workerset.task_cursor(client)
    with parallel_config(backend="dask", **submit):
        start = time.perf_counter()
        answer = run(options)
        seconds = time.perf_counter() - start
    activity = workerset.worker_activity(workerset.task_stream(client, cursor), names)
    return {"seconds": seconds, "answer": answer, "activity": activity}


def measure(client: Any, trees: int, repeats: int, samples: int = 2000) -> list[dict]:
    """Every workload × variant, *repeats* interleaved rounds (plus one warm-up round).

    The fast host is the worker whose name starts with ``fast`` (the lab's), else the first.
    """
    workers = client.scheduler_info(n_workers=-1)["workers"]
    names = {str(info["name"]): address for address, info in workers.items()}
    fast = next((address for name, address in sorted(names.items())
                 if name.startswith("fast")), min(names.values()))
    runs = {"forest": forest(trees), "gridsearch": gridsearch(samples)}
    plan = [(w, v, submit, options) for w, items in variants(fast).items()
            for v, submit, options in items]
    results: dict[tuple[str, str], list[dict]] = {(w, v): [] for w, v, _, _ in plan}
    for round_ in range(repeats + 1):
        for workload, variant, submit, options in plan:
            done = timed(client, runs[workload], submit, options, names)
            if round_:  # round 0 warms every worker up (imports, data)
                results[(workload, variant)].append(done)
    return [summary(w, v, repeats_) for (w, v), repeats_ in results.items()]


def summary(workload: str, variant: str, repeats: list[dict]) -> dict:
    """Median seconds, the answers and per-host medians of tasks, busy and idle-at-end."""
    hosts = sorted({name for r in repeats for name in r["activity"]})

    def median_of(name: str, figure: str) -> float:
        return statistics.median(r["activity"].get(name, {}).get(figure, 0.0) for r in repeats)
    return {"workload": workload, "variant": variant,
            "median": statistics.median(r["seconds"] for r in repeats),
            "seconds": [r["seconds"] for r in repeats],
            "answers": sorted({repr(r["answer"]) for r in repeats}),
            "hosts": {name: {figure: median_of(name, figure)
                             for figure in ("tasks", "busy_s", "idle_end_s")}
                      for name in hosts}}


def print_rows(rows: list[dict]) -> None:
    alone = {r["workload"]: r["median"] for r in rows if r["variant"] == "fast alone"}
    print("| workload | variant | median s | vs fast alone | tasks per host | busy s per host "
          "| longest idle at end |")
    print("|---|---|---:|---:|---|---|---:|")
    for r in rows:
        hosts = r["hosts"]
        tasks = ", ".join(f"{n} {h['tasks']:.0f}" for n, h in hosts.items() if h["tasks"])
        busy = ", ".join(f"{n} {h['busy_s']:.2g}" for n, h in hosts.items() if h["tasks"])
        idle = max((h["idle_end_s"] for h in hosts.values() if h["tasks"]), default=0.0)
        print(f"| {r['workload']} | {r['variant']} | {r['median']:.2f} "
              f"| {alone[r['workload']] / r['median']:.2f}× | {tasks} | {busy} | {idle:.2f} |")


def answers_agree(rows: list[dict]) -> bool:
    """Whether every variant of a workload gave the same answer."""
    by_workload: dict[str, set[str]] = {}
    for r in rows:
        by_workload.setdefault(r["workload"], set()).update(r["answers"])
    return all(len(answers) == 1 for answers in by_workload.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=DEFAULT_SPEC)
    parser.add_argument("--trees", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2000, help="grid search data size")
    parser.add_argument("--out", default="docs/joblib_placement", help="stem of the .json")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # reach the lab's teardown
    from clusterbench.api.cluster import Cluster

    workdir = Path(tempfile.mkdtemp(prefix="joblib-placement-"))
    load_before = os.getloadavg()
    state = Lab(unique_name()).up(args.spec, workdir / "lab", subnet=free_subnet())
    started = time.perf_counter()
    try:
        inventory = workdir / "lab.yml"
        inventory.write_text(yaml.safe_dump(inventory_data(state), sort_keys=False))
        with Cluster.up(inventory) as cluster:
            rows = measure(cluster.client, args.trees, args.repeats, args.samples)
    finally:
        down(state)
    load_after = os.getloadavg()
    print(f"\n{args.spec}, {args.trees} trees, grid on {args.samples} samples, "
          f"{args.repeats} repeats "
          f"({time.perf_counter() - started:.0f} s); load average before {load_before[0]:.2f},"
          f" after {load_after[0]:.2f} (1 min)")
    print_rows(rows)
    agree = answers_agree(rows)
    print(f"\nanswers identical across variants: {agree}")
    (ROOT / args.out).with_suffix(".json").write_text(json.dumps(
        {"spec": args.spec, "trees": args.trees, "samples": args.samples,
         "repeats": args.repeats, "rows": rows,
         "answers_identical": agree, "load_before": load_before, "load_after": load_after},
        indent=1) + "\n")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
