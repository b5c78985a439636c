"""Drift: does interleaving keep a speedup honest when the machine gets busy mid-sweep?

Run::

    python -m tests.benchmarks.drift [--rounds 2] [--repeats 8] [--size small]

A 2-point sweep, montecarlo under ``synchronous`` (the serial reference) and
``processes × 2``, run three ways, interleaved per round in this order:

* ``quiet``: nothing else runs;
* ``interleaved + hog``: the default order (repeats round-robin over the points), with a
  CPU hog started once half of the sweep's records are on disk;
* ``blocked + hog``: ``--order-points blocked`` (every repeat of one point, then the
  other), with the hog started at the same moment.

Two hogs (``--hog``):

* ``steal`` (default): what a shared VM's drift is, every vCPU slowed alike.  One hog
  process per core, pinned to it, real-time priority (SCHED_FIFO), busy 10 ms then asleep
  10 ms: whatever runs on the machine gets about half of every core, serial and parallel
  points alike.
* ``plain``: one ordinary busy loop.  It takes a core from the parallel point (3 runnable
  processes on 2 cores) but not from the serial one (2 on 2): the machine's parallel
  capacity really drops while it runs, so no execution order can recover the quiet
  speedup; interleaving still halves the error of the blocked order.

The speedup of each sweep is clusterbench's own ``vs serial`` figure (median synchronous /
median processes×2) from its run directory.  Goal: the interleaved sweep's speedup within
10 % of the quiet one's; the blocked sweep's error is printed beside it (there the hog lands
on the processes point only).  The hog is always stopped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOAL = 0.10
VARIANTS = ("quiet", "interleaved + hog", "blocked + hog")


def hog(core: int | None) -> None:
    """Burn CPU until killed: plain (core None), or pinned + real-time + duty-cycled."""
    if core is None:
        while True:
            pass
    import os

    os.sched_setaffinity(0, {core})
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    while True:
        end = time.perf_counter() + 0.010
        while time.perf_counter() < end:
            pass
        time.sleep(0.010)


def start_hog(kind: str) -> list[multiprocessing.Process]:
    import os

    cores = sorted(os.sched_getaffinity(0)) if kind == "steal" else [None]
    burners = [multiprocessing.Process(target=hog, args=(core,), daemon=True) for core in cores]
    for burner in burners:
        burner.start()
    return burners


def sweep(variant: str, results: Path, size: str, repeats: int, kind: str) -> float:
    """Run one sweep; start the hog when half its records are written; its speedup."""
    args = [sys.executable, "-m", "clusterbench", "run", "scaling", "--workloads",
            "montecarlo", "--size", size, "--schedulers", "synchronous,processes",
            "--workers", "2", "--repeats", str(repeats), "--results-dir", str(results)]
    if variant.startswith("blocked"):
        args += ["--order-points", "blocked"]
    before = set(results.iterdir()) if results.exists() else set()
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)
    burners: list[multiprocessing.Process] = []
    try:
        while process.poll() is None:
            if variant != "quiet" and not burners and _records(results, before) >= repeats:
                burners = start_hog(kind)
            time.sleep(0.1)
    finally:
        for burner in burners:
            burner.kill()
            burner.join()
    if process.returncode != 0:
        raise SystemExit(f"{variant}: clusterbench run exited {process.returncode}")
    (run_dir,) = set(results.iterdir()) - before
    return _speedup(run_dir)


def _records(results: Path, before: set[Path]) -> int:
    new = [d for d in results.iterdir() if d not in before] if results.exists() else []
    files = [d / "records.jsonl" for d in new if (d / "records.jsonl").exists()]
    return sum(len(f.read_text().splitlines()) for f in files)


def _speedup(run_dir: Path) -> float:
    from clusterbench.analysis.speedup import summarize
    from clusterbench.results.store import RunStore

    store = RunStore(run_dir)
    summary = summarize(store.records(), store.environment())
    row = summary[(summary["scheduler"] == "processes") & (summary["workers"] == 2)].iloc[0]
    return float(row["speedup_vs_serial"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--size", default="small")
    parser.add_argument("--hog", choices=("steal", "plain"), default="steal")
    args = parser.parse_args()
    results = Path(tempfile.mkdtemp(prefix="drift-"))
    speedups: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for round_index in range(args.rounds):
        for variant in VARIANTS:
            speedups[variant].append(sweep(variant, results, args.size, args.repeats,
                                           args.hog))
            print(f"round {round_index + 1} {variant}: {speedups[variant][-1]:.2f}×",
                  flush=True)
    quiet = statistics.median(speedups["quiet"])
    print("\n| sweep | speedup (median of rounds) | per round | error vs quiet |")
    print("|---|---:|---|---:|")
    for variant in VARIANTS:
        value = statistics.median(speedups[variant])
        rounds = ", ".join(f"{s:.2f}×" for s in speedups[variant])
        print(f"| {variant} | {value:.2f}× | {rounds} | {abs(value / quiet - 1):.0%} |")
    interleaved = abs(statistics.median(speedups["interleaved + hog"]) / quiet - 1)
    print(f"\n{args.hog} hog: interleaved error {interleaved:.0%} (goal <= {GOAL:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
