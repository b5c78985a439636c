"""clusterbench's own time per point and ``status`` time at 8, 64 and 256 workers.

Run::

    python -m tests.benchmarks.many_workers [--workers 8,64,256] [--out docs/many_workers]

Workers are in-process ``distributed.Worker`` objects (``tests/inprocess_launcher.py``),
so what grows with the worker count is clusterbench's bookkeeping and dask's scheduler,
not interpreters.  Per cluster size N:

* a sweep through the Python API (``Cluster.up`` + ``run_scenario(cluster=...)``),
  montecarlo ``tiny``, points 1 and N workers, ``--repeats`` rounds, no warm-up; the
  *bookkeeping* of a repeat is the wall time of ``Sweep._attempt`` and ``Sweep._append``
  (bring up the point's workers, task stream, judge, verify, record, append) minus the
  timed region the record holds: clusterbench's cost per point outside the timer;
* ``clusterbench up`` (daemon), then ``clusterbench status`` (the CLI, interpreter start
  included) and ``down``, timed.

Writes ``OUT.json`` and prints a Markdown table with the machine's load average
(``os.getloadavg()``) before and after: the numbers are only comparable at similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.inprocess_launcher import PLUGIN, STAND_IN_CONFIG, write_inventory

ROOT = Path(__file__).resolve().parents[2]


def sweep_bookkeeping(inventory: Path, workers: int, repeats: int, results: Path
                      ) -> dict[str, Any]:
    """Per-repeat bookkeeping seconds of a sweep over 1 and *workers* workers."""
    from clusterbench.api import Cluster, run_scenario
    from clusterbench.runner.execute import Sweep

    spent: list[tuple[int, float]] = []
    attempt, append = Sweep._attempt, Sweep._append

    def timed_attempt(self, point, *args):  # noqa: ANN001, ANN202 - Sweep._attempt's
        start = time.perf_counter()
        record = attempt(self, point, *args)
        spent.append((point.workers, time.perf_counter() - start - _timed(record)))
        return record

    def timed_append(self, record):  # noqa: ANN001, ANN202 - Sweep._append's
        start = time.perf_counter()
        append(self, record)
        if spent:
            workers, seconds = spent[-1]
            spent[-1] = (workers, seconds + time.perf_counter() - start)

    Sweep._attempt, Sweep._append = timed_attempt, timed_append
    try:
        start = time.perf_counter()
        with Cluster.up(inventory) as cluster:
            up = time.perf_counter() - start
            start = time.perf_counter()
            run = run_scenario("scaling", cluster=cluster, workloads=["montecarlo"],
                               size="tiny", schedulers=["distributed"],
                               workers=f"1,{workers}", repeats=repeats, warmup=0,
                               results_dir=results)
            sweep = time.perf_counter() - start
    finally:
        Sweep._attempt, Sweep._append = attempt, append
    if run.failed:
        raise RuntimeError(f"{workers} workers: {run.failed} failed repeat(s)")
    at_n = [seconds for k, seconds in spent if k == workers]
    at_1 = [seconds for k, seconds in spent if k == 1]
    return {"workers": workers, "api_up_s": up, "sweep_s": sweep,
            "bookkeeping_median_s": statistics.median(at_n), "bookkeeping_max_s": max(at_n),
            "bookkeeping_1_worker_median_s": statistics.median(at_1)}


def _timed(record: Any) -> float:
    """The record's timed region (NaN for a failed repeat counts as none)."""
    return record.seconds if record.seconds == record.seconds else 0.0


def cli_seconds(env: dict[str, str], *args: str) -> float:
    """Wall seconds of ``python -m clusterbench ARGS``; raises with its last stderr line."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "clusterbench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"clusterbench {args[0]} exited {proc.returncode}: {last}")
    return time.perf_counter() - start


def status_times(inventory: Path, state: Path) -> dict[str, float]:
    """``up`` / ``status`` / ``down`` seconds through the CLI; ``status`` twice, best kept."""
    env = os.environ | PLUGIN | {"CLUSTERBENCH_STATE_DIR": str(state)}
    up = cli_seconds(env, "up", str(inventory), "--timeout", "600")
    try:
        status = min(cli_seconds(env, "status") for _ in range(2))
    finally:
        down = cli_seconds(env, "down")
    return {"cli_up_s": up, "status_s": status, "down_s": down}


def stand_in_settings() -> None:
    """What in-process stand-ins need and real workers do not (not what is measured): the
    stand-in dask config, and a short capacity kernel in short chunks, because 256
    kernels in one process run one after another under its GIL (calibration took 40 s)."""
    import dask

    from clusterbench.runner import calibrate, hostinfo

    os.environ.update(PLUGIN)
    dask.config.set(STAND_IN_CONFIG)
    calibrate.CAPACITY_SECONDS = 0.05
    hostinfo.CHUNK = 2_000


def measure(counts: list[int], repeats: int) -> list[dict[str, Any]]:
    """One row per cluster size: the sweep's bookkeeping, then the CLI's up/status/down."""
    stand_in_settings()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cb-many-") as name:
        tmp = Path(name)
        for workers in counts:
            inventory = write_inventory(tmp / f"inv-{workers}.yml", workers, f"many{workers}")
            row = sweep_bookkeeping(inventory, workers, repeats, tmp / "results")
            row |= status_times(inventory, tmp / "state")
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows."""
    lines = ["| workers | bookkeeping per point (median) s | max s | at 1 worker s | "
             "status s | up s | down s |", "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['workers']} | {r['bookkeeping_median_s']:.3f} | "
              f"{r['bookkeeping_max_s']:.3f} | {r['bookkeeping_1_worker_median_s']:.3f} | "
              f"{r['status_s']:.2f} | {r['cli_up_s']:.1f} | {r['down_s']:.1f} |"
              for r in rows]
    return "\n".join(lines)


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected counts such as 8,64,256, got {text!r}"
                                         ) from None
    if not counts or min(counts) < 2:
        raise argparse.ArgumentTypeError("worker counts must be at least 2")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=_counts, default=[8, 64, 256], help="e.g. 8,64,256")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="docs/many_workers", help="stem of the .json file")
    args = parser.parse_args()
    load_before = os.getloadavg()
    try:
        rows = measure(args.workers, max(1, args.repeats))
    except RuntimeError as exc:
        print(f"many_workers: error: {exc}", file=sys.stderr)
        return 1
    load_after = os.getloadavg()
    result = {"rows": rows, "repeats": args.repeats, "cpus": os.cpu_count(),
              "load_before": load_before, "load_after": load_after}
    Path(args.out).with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"in-process workers, montecarlo[tiny], points 1 and N, {args.repeats} repeat(s)")
    print(table(rows))
    print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/"
          f"{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/"
          f"{load_after[2]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
