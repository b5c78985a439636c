"""Does the capacity-weighted ideal predict what a heterogeneous cluster delivers?

Run (root, Linux, sshd installed)::

    python -m tests.benchmarks.capacity_ideal [--spec fast:1x0.8cpu,slow:4x0.2cpu]
        [--size small] [--repeats 3] [--out docs/capacity_ideal]

One virtual lab (quotas 0.8 + 4 × 0.2 = 1.6 CPUs on this 2-core machine, so every fake
host has a CPU share of its own), two inventories over the same hosts: the fast host
first, and the slow hosts first.  For each, ``clusterbench run`` sweeps the distributed
mode over 1..5 workers (interleaved repeats) with two Monte Carlo variants:

* ``fine``: 32 tasks per worker and no lower bound on the task length, so dask's work
  stealing can balance a fast and slow workers (the issue's ``tasks_per_worker: 32``);
* ``default``: the stock workload (4 tasks per worker, tasks no shorter than the
  calibrated overhead allows).

Printed per inventory order and variant: measured speedup (over the 1-worker point), the
capacity-weighted ideal ``C(S_k)/C(S_1)`` from the run's own per-worker calibration,
the naive ideal k, and each ideal's relative error ``|speedup/ideal - 1|``.  The goal is
the capacity-weighted ideal within 15 % for ``fine`` at every worker count, in both
orders.  Every number comes from the run directories (``records.jsonl`` +
``environment.json``) through clusterbench's own analysis, which is what a user sees.
The lab is always torn down.  Only the lab's own addresses and loopback are used.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from clusterbench.lab import Lab, down
from clusterbench.lab.inventory import inventory_data
from clusterbench.workloads.base import Workload
from clusterbench.workloads.montecarlo import WORKLOAD as MONTECARLO
from tests.fixtures.lab import free_subnet, unique_name

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = "fast:1x0.8cpu,slow:4x0.2cpu"
GOAL = 0.15


def _prepare_fine(size: str, seed: int, **params):  # noqa: ANN003, ANN201 - as Workload's
    # The split: 32 tasks per worker, still no shorter than the calibrated overhead
    # allows (--min-task-seconds 0 lifts that floor).
    return MONTECARLO.prepare(size, seed, **({"tasks_per_worker": 32} | params))


#: Monte Carlo cut fine enough for work stealing to balance unequal workers.
FINE = Workload("montecarlo.fine", _prepare_fine, MONTECARLO.run, MONTECARLO.verify,
                MONTECARLO.sizes, "montecarlo, 32 tasks per worker", weak_param="n_paths")


def inventories(state, workdir: Path) -> dict[str, Path]:  # noqa: ANN001 - a LabState
    """``{"fast first": path, "slow first": path}`` over the lab's hosts."""
    data = inventory_data(state)
    fast = [h for h in data["hosts"] if h["name"].startswith("fast")]
    slow = [h for h in data["hosts"] if not h["name"].startswith("fast")]
    paths = {}
    for label, hosts in (("fast first", fast + slow), ("slow first", slow + fast)):
        path = workdir / f"{label.replace(' ', '-')}.yml"
        path.write_text(yaml.safe_dump(data | {"hosts": hosts}, sort_keys=False))
        paths[label] = path
    return paths


def run_sweep(inventory: Path, results: Path, size: str, repeats: int, workers: int,
              min_task_seconds: float | None) -> Path:
    """One ``clusterbench run`` of both variants; returns its run directory."""
    fine: dict = {"name": "tests.benchmarks.capacity_ideal:FINE"}
    if min_task_seconds is not None:
        fine["params"] = {"min_task_seconds": min_task_seconds}
    scenario = results / "scenario.yml"
    scenario.write_text(yaml.safe_dump({
        "name": "capacity-ideal", "size": size, "schedulers": ["distributed"],
        "workers": f"1..{workers}", "repeats": repeats, "warmup": 1, "seed": 0,
        "workloads": [fine, "montecarlo"],
    }))
    before = set(results.glob("*-capacity-ideal-*"))
    subprocess.run([sys.executable, "-m", "clusterbench", "run", str(scenario), "-i",
                    str(inventory), "--results-dir", str(results)], cwd=ROOT, check=True)
    (run_dir,) = set(results.glob("*-capacity-ideal-*")) - before
    return run_dir


def table(run_dir: Path) -> list[dict]:
    """Rows per variant and worker count from the run's own summary."""
    from clusterbench.analysis.speedup import summarize
    from clusterbench.results.store import RunStore

    store = RunStore(run_dir)
    summary = summarize(store.records(), store.environment())
    rows = []
    for row in summary[summary["scheduler"] == "distributed"].to_dict("records"):
        ideal, naive = row["ideal_capacity"], float(row["workers"])
        rows.append({"variant": "fine" if "FINE" in row["workload"] else "default",
                     "workers": int(row["workers"]), "median": row["median"],
                     "speedup": row["speedup"], "ideal_capacity": ideal, "naive": naive,
                     "error_capacity": abs(row["speedup"] / ideal - 1),
                     "error_naive": abs(row["speedup"] / naive - 1), "cv": row["cv"]})
    return rows


def print_rows(label: str, rows: list[dict]) -> None:
    print(f"\n{label}")
    print("| variant | workers | median s | speedup | capacity ideal | error | naive ideal "
          "| error | CV |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['workers']} | {r['median']:.2f} | {r['speedup']:.2f}× "
              f"| {r['ideal_capacity']:.2f}× | {r['error_capacity']:.0%} | {r['naive']:.0f}× "
              f"| {r['error_naive']:.0%} | {r['cv']:.0%} |")


def plot(results: dict[str, list[dict]], path: Path) -> None:
    """Speedup vs both ideals, one panel per inventory order."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(figure)
    for ax, (label, rows) in zip(figure.subplots(1, len(results)), results.items(),
                                 strict=True):
        for variant, marker in (("fine", "o"), ("default", "s")):
            own = sorted((r for r in rows if r["variant"] == variant), key=lambda r: r["workers"])
            ax.plot([r["workers"] for r in own], [r["speedup"] for r in own], marker=marker,
                    label=f"measured, {variant}")
        fine = sorted((r for r in rows if r["variant"] == "fine"), key=lambda r: r["workers"])
        ax.plot([r["workers"] for r in fine], [r["ideal_capacity"] for r in fine], "k--",
                label="capacity-weighted ideal")
        ax.plot([r["workers"] for r in fine], [r["naive"] for r in fine], ":", color="0.5",
                label="naive ideal (k)")
        ax.set(title=label, xlabel="workers", ylabel="speedup over 1 worker",
               xticks=[r["workers"] for r in fine])
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=DEFAULT_SPEC)
    parser.add_argument("--size", default="small")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="docs/capacity_ideal", help="stem of .png/.json")
    parser.add_argument("--min-task-seconds", type=float,
                        help="shortest task of the fine split (default: the calibrated floor)")
    args = parser.parse_args()
    # SIGTERM (kill, a CI timeout) must still reach the `finally` that removes the lab.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="capacity-ideal-"))
    state = Lab(unique_name()).up(args.spec, workdir / "lab", subnet=free_subnet())
    try:
        workers = sum(h.workers for h in state.hosts)
        results = {}
        for label, inventory in inventories(state, workdir).items():
            started = time.perf_counter()
            run_dir = run_sweep(inventory, workdir, args.size, args.repeats, workers,
                                args.min_task_seconds)
            results[label] = table(run_dir)
            print_rows(f"{label} ({time.perf_counter() - started:.0f} s, {run_dir})",
                       results[label])
    finally:
        down(state)
    out = ROOT / args.out
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, out.with_suffix(".png"))
    fine = [r for rows in results.values() for r in rows if r["variant"] == "fine"]
    worst = max(r["error_capacity"] for r in fine)
    print(f"\nfine split: worst capacity-ideal error {worst:.0%} (goal <= {GOAL:.0%}); "
          f"worst naive-ideal error {max(r['error_naive'] for r in fine):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
