"""Harness overhead: one montecarlo point through clusterbench vs a bare script.

Run: ``python -m tests.benchmarks.harness_overhead [--rounds 7] [--size small]``.

Both variants run the same tasks (same blocks, same seed) on the same
2-process pool; they are interleaved round by round so that machine noise hits
both alike.  "clusterbench" is the figure the runner records (``Sweep`` →
``open_mode`` → ``ExecutionContext.compute``); "bare" is ``dask.compute`` on a
``ProcessPoolExecutor`` written by hand.  The ratio of medians is the overhead.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dask
import numpy as np

from clusterbench.results.store import RunStore
from clusterbench.runner.execute import Sweep
from clusterbench.runner.modes import DEFAULT_MIN_TASK_SECONDS
from clusterbench.runner.plan import Point
from clusterbench.runner.scenario import WorkloadChoice, parse_scenario
from clusterbench.workloads import montecarlo


def bare(data, workers: int, pool: ProcessPoolExecutor) -> float:  # noqa: ANN001
    """The hand-written equivalent of one montecarlo repeat (same tasks, same reduction)."""
    start = time.perf_counter()
    # Without a calibration the runner's context asks for tasks of DEFAULT_MIN_TASK_SECONDS.
    n_tasks = montecarlo.plan_tasks(data.n_blocks, data.estimated_seconds, workers,
                                    DEFAULT_MIN_TASK_SECONDS)
    ranges = np.array_split(np.arange(data.n_blocks), n_tasks)
    tasks = [dask.delayed(montecarlo.price_blocks)((data, int(r[0]), int(r[-1]) + 1))
             for r in ranges]
    payoffs = np.concatenate(
        dask.compute(*tasks, scheduler="processes", pool=pool, num_workers=workers,
                     chunksize=1))  # as the runner does: dask's default 6 serialises few tasks
    payoffs.mean(), payoffs.std(ddof=1)
    return time.perf_counter() - start


def measure(rounds: int, size: str, workers: int) -> tuple[list[float], list[float]]:
    """Interleaved (clusterbench, bare) seconds, one pair per round."""
    scenario = parse_scenario({"workloads": ["montecarlo"], "size": size, "repeats": 1,
                               "warmup": 0, "schedulers": ["processes"]})
    point = Point(WorkloadChoice("montecarlo", size), "processes", workers)
    data = montecarlo.prepare(size, 0)
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(workers) as pool:
        sweep = Sweep(scenario, RunStore.create(Path(tmp), "overhead"))
        bare(data, workers, pool)  # warm both pools
        for _ in range(rounds):
            ours.append(sweep.run_point(point)[0].seconds)
            theirs.append(bare(data, workers, pool))
    return ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--size", default="small")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    ours, theirs = measure(args.rounds, args.size, args.workers)
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"montecarlo[{args.size}] processes×{args.workers}, {args.rounds} interleaved rounds")
    print(f"  clusterbench median {statistics.median(ours):.4f} s  (min {min(ours):.4f})")
    print(f"  bare script  median {statistics.median(theirs):.4f} s  (min {min(theirs):.4f})")
    print(f"  overhead ratio (medians) {ratio:.3f}  goal <= 1.05")


if __name__ == "__main__":
    main()
