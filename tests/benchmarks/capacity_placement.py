"""Does capacity-aware placement make mismatched machines pay off?

Run (root, Linux, sshd installed; on a quiet machine: say its load with the numbers)::

    python -m tests.benchmarks.capacity_placement [--spec fast:1x0.8cpu,slow:4x0.2cpu]
        [--size small] [--repeats 3] [--out docs/capacity_placement]
    python -m tests.benchmarks.capacity_placement --homogeneous [--spec node:3x0.5cpu]

``--homogeneous`` asks the other question: on equal hosts there is nothing to balance, so
what does ``distributed-capacity`` cost against ``distributed``?  Same run, interleaved;
printed per workload and worker count: both medians and ``capacity / distributed - 1``
(goal: within 3 %), and the load average before and after (``os.getloadavg``).

One virtual lab, the fast host first (``--order fastest-first``), one ``clusterbench run``
sweeping 1..N workers with ``distributed`` and ``distributed-capacity`` side by side
(interleaved repeats, the same calibration) for montecarlo and randomforest.blocks.
Printed per workload, mode and worker count: median, speedup over the mode's 1-worker
point, the capacity-weighted ideal, the speedup over the fastest host alone (the faster of
the two modes' 1-worker medians; goal: never below 1) and its ratio to the ideal (goal:
``distributed-capacity`` at >= 85 % at every count).  The run's verdict sentences (with
the recommended worker set) follow.  Every number comes from the run directory through
clusterbench's own analysis.  The lab is always torn down; only its own addresses and
loopback are used.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from clusterbench.lab import Lab, down
from clusterbench.lab.inventory import inventory_data
from tests.fixtures.lab import free_subnet, unique_name

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = "fast:1x0.8cpu,slow:4x0.2cpu"
HOMOGENEOUS_SPEC = "node:3x0.5cpu"
GOAL = 0.85
#: On equal hosts distributed-capacity must stay within this share of distributed's time.
HOMOGENEOUS_GOAL = 0.03
MODES = ("distributed", "distributed-capacity")


WORKLOADS = ("montecarlo", "randomforest.blocks")


def run_sweep(inventory: Path, results: Path, size: str, repeats: int, workers: int,
              workloads: tuple[str, ...] = WORKLOADS) -> Path:
    """One ``clusterbench run`` of both modes over 1..*workers*; its run directory."""
    scenario = results / "scenario.yml"
    scenario.write_text(yaml.safe_dump({
        "name": "capacity-placement", "size": size, "schedulers": list(MODES),
        "workers": f"1..{workers}", "repeats": repeats, "warmup": 1, "seed": 0,
        "order": "fastest-first", "workloads": list(workloads),
    }))
    subprocess.run([sys.executable, "-m", "clusterbench", "run", str(scenario), "-i",
                    str(inventory), "--results-dir", str(results)], cwd=ROOT, check=True)
    (run_dir,) = results.glob("*-capacity-placement-*")
    return run_dir


def table(run_dir: Path) -> tuple[list[dict], list[str]]:
    """Rows per workload, mode and worker count, and the verdict sentences."""
    from clusterbench.analysis.fits import scaling_fits
    from clusterbench.analysis.speedup import summarize
    from clusterbench.analysis.verdict import verdicts
    from clusterbench.results.store import RunStore

    store = RunStore(run_dir)
    summary = summarize(store.records(), store.environment())
    summary = summary[summary["scheduler"].isin(MODES)]
    # The fastest host alone is one machine's time whatever the mode: the faster of the
    # two modes' 1-worker medians (so a slow 1-worker point of one mode cannot flatter
    # that mode's speedups).
    ones = summary[summary["workers"] == 1]
    alone = ones.groupby("workload")["median"].min().to_dict()
    rows = [{"workload": r["workload"], "mode": r["scheduler"], "workers": int(r["workers"]),
             "median": r["median"], "speedup": r["speedup"], "ideal": r["ideal_capacity"],
             "of_ideal": alone[r["workload"]] / r["median"] / r["ideal_capacity"],
             "vs_fastest_alone": alone[r["workload"]] / r["median"],
             "cv": r["cv"]} for r in summary.to_dict("records")]
    sentences = [v.sentence for v in verdicts(summary, scaling_fits(summary))]
    return rows, sentences


def cost_rows(rows: list[dict]) -> list[dict]:
    """Per workload and worker count: both modes' medians and what placement cost."""
    by_point = {(r["workload"], r["workers"], r["mode"]): r for r in rows}
    points = sorted({(r["workload"], r["workers"]) for r in rows})
    return [{"workload": w, "workers": k, "distributed": plain["median"],
             "capacity": placed["median"], "cost": placed["median"] / plain["median"] - 1,
             "cv_distributed": plain["cv"], "cv_capacity": placed["cv"]}
            for w, k in points
            if (plain := by_point.get((w, k, MODES[0]))) and (placed := by_point.get((w, k,
                                                                                   MODES[1])))]


def pooled_cost(samples: dict[tuple[str, int, str], list[float]]) -> dict[str, float]:
    """All points' costs pooled: the geometric mean of ``capacity / distributed`` medians
    minus 1, with a 95 % bootstrap interval (repeats resampled within each point).

    *samples* maps (workload, workers, mode) to the repeats' seconds.  One point's CV of
    10-15 % on this machine hides a 3 % cost; the pooled figure and its interval say
    whether the goal can be told apart from noise at all.
    """
    import numpy as np
    from scipy.stats import bootstrap

    points = sorted({(w, k) for w, k, _ in samples
                     if (w, k, MODES[0]) in samples and (w, k, MODES[1]) in samples})
    data = tuple(np.asarray(samples[(w, k, mode)], dtype=float)
                 for w, k in points for mode in MODES)

    def statistic(*groups: np.ndarray, axis: int = -1) -> np.ndarray:
        logs = [np.log(np.median(placed, axis=axis) / np.median(plain, axis=axis))
                for plain, placed in zip(groups[::2], groups[1::2], strict=True)]
        return np.exp(np.mean(logs, axis=0)) - 1

    result = bootstrap(data, statistic, n_resamples=2000, method="percentile",
                       random_state=0, vectorized=True)
    return {"cost": float(statistic(*data)), "low": float(result.confidence_interval.low),
            "high": float(result.confidence_interval.high), "points": len(points)}


def paired_cost(pairs: dict[tuple[str, int, int], dict[str, float]]) -> dict[str, float]:
    """The cost from repeats paired by round: the geometric mean over every (workload,
    workers, round) of ``capacity / distributed`` minus 1, with a 95 % bootstrap interval
    (pairs resampled).

    *pairs* maps (workload, workers, round) to ``{mode: seconds}``.  Both modes of one
    round ran seconds apart in the interleaved sweep, so the machine's slow drift (a busy
    and a quiet half hour moved one point 0.78x -> 1.50x) hits both and cancels in the
    ratio; the pooled-medians figure above carries it in full.  Rounds missing a mode (a
    repeat that did not count) are left out.
    """
    import numpy as np
    from scipy.stats import bootstrap

    logs = np.asarray([np.log(modes[MODES[1]] / modes[MODES[0]]) for modes in pairs.values()
                       if MODES[0] in modes and MODES[1] in modes], dtype=float)
    if len(logs) < 2:
        return {"cost": float("nan"), "low": float("nan"), "high": float("nan"),
                "pairs": int(len(logs))}
    result = bootstrap((logs,), np.mean, n_resamples=2000, method="percentile",
                       random_state=0)
    return {"cost": float(np.exp(logs.mean()) - 1),
            "low": float(np.exp(result.confidence_interval.low) - 1),
            "high": float(np.exp(result.confidence_interval.high) - 1), "pairs": len(logs)}


def round_pairs(run_dir: Path) -> dict[tuple[str, int, int], dict[str, float]]:
    """Seconds of every repeat that counts (as the summary's statistics count them:
    verified, no error, worker set unchanged), per (workload, workers, round) and mode."""
    from clusterbench.results.store import RunStore

    pairs: dict[tuple[str, int, int], dict[str, float]] = {}
    for record in RunStore(run_dir).records():
        if record.counts and record.scheduler in MODES:
            pairs.setdefault((record.workload, record.workers, record.round),
                             {})[record.scheduler] = record.seconds
    return pairs


def repeat_samples(pairs: dict[tuple[str, int, int], dict[str, float]]
                   ) -> dict[tuple[str, int, str], list[float]]:
    """:func:`round_pairs` regrouped per (workload, workers, mode), rounds in order."""
    samples: dict[tuple[str, int, str], list[float]] = {}
    for (workload, workers, _), modes in sorted(pairs.items()):
        for mode, seconds in modes.items():
            samples.setdefault((workload, workers, mode), []).append(seconds)
    return samples


def print_costs(costs: list[dict]) -> None:
    print("| workload | workers | distributed s | distributed-capacity s | cost | CVs |")
    print("|---|---:|---:|---:|---:|---:|")
    for c in costs:
        print(f"| {c['workload']} | {c['workers']} | {c['distributed']:.2f} "
              f"| {c['capacity']:.2f} | {c['cost']:+.1%} "
              f"| {c['cv_distributed']:.0%} / {c['cv_capacity']:.0%} |")
    worst = max(abs(c["cost"]) for c in costs)
    print(f"\nlargest |cost| {worst:.1%} (goal <= {HOMOGENEOUS_GOAL:.0%}); "
          f"points within the goal: {sum(abs(c['cost']) <= HOMOGENEOUS_GOAL for c in costs)}"
          f" of {len(costs)}")


def print_rows(rows: list[dict]) -> None:
    print("| workload | mode | workers | median s | speedup | capacity ideal | of ideal "
          "| vs fastest alone | CV |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workload']} | {r['mode']} | {r['workers']} | {r['median']:.2f} "
              f"| {r['speedup']:.2f}× | {r['ideal']:.2f}× | {r['of_ideal']:.0%} "
              f"| {r['vs_fastest_alone']:.2f}× | {r['cv']:.0%} |")


def plot(rows: list[dict], path: Path) -> None:
    """Speedup of both modes against the capacity-weighted ideal, one panel per workload."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    workloads = sorted({r["workload"] for r in rows})
    figure = Figure(figsize=(5 * len(workloads), 4), layout="constrained")
    FigureCanvasAgg(figure)
    for ax, workload in zip(figure.subplots(1, len(workloads), squeeze=False)[0], workloads,
                            strict=True):
        for mode, marker in zip(MODES, "os", strict=True):
            own = sorted((r for r in rows if r["workload"] == workload and r["mode"] == mode),
                         key=lambda r: r["workers"])
            ax.plot([r["workers"] for r in own], [r["vs_fastest_alone"] for r in own],
                    marker=marker, label=mode)
        ideal = sorted((r for r in rows if r["workload"] == workload
                        and r["mode"] == MODES[1]), key=lambda r: r["workers"])
        ax.plot([r["workers"] for r in ideal], [r["ideal"] for r in ideal], "k--",
                label="capacity-weighted ideal")
        ax.axhline(1.0, color="0.6", lw=0.8)
        ax.set(title=workload, xlabel="workers (fastest first)",
               ylabel="speedup over the fastest host alone")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=None, help=f"lab hosts (default {DEFAULT_SPEC}; "
                        f"with --homogeneous {HOMOGENEOUS_SPEC})")
    parser.add_argument("--homogeneous", action="store_true",
                        help="equal hosts: the cost of distributed-capacity vs distributed")
    parser.add_argument("--size", default="small")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma-separated block workloads")
    parser.add_argument("--out", default=None, help="stem of .png/.json (default "
                        "docs/capacity_placement, or docs/capacity_homogeneous)")
    args = parser.parse_args()
    args.workloads = tuple(w.strip() for w in args.workloads.split(",") if w.strip())
    args.spec = args.spec or (HOMOGENEOUS_SPEC if args.homogeneous else DEFAULT_SPEC)
    args.out = args.out or ("docs/capacity_homogeneous" if args.homogeneous
                            else "docs/capacity_placement")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # reach the lab's teardown
    if args.homogeneous:
        return homogeneous(args)
    run_dir, seconds, rows, sentences = lab_sweep(args, "capacity-placement-")
    print(f"\n{args.spec}, {args.size}, {args.repeats} repeats "
          f"({seconds:.0f} s, {run_dir})")
    print_rows(rows)
    print("\n" + "\n".join(sentences))
    out = ROOT / args.out
    out.with_suffix(".json").write_text(json.dumps({"rows": rows, "verdicts": sentences},
                                                   indent=1) + "\n")
    plot(rows, out.with_suffix(".png"))
    placed = [r for r in rows if r["mode"] == MODES[1] and r["workers"] > 1]
    if not placed:
        return 0
    print(f"\ndistributed-capacity: worst {min(r['of_ideal'] for r in placed):.0%} of the "
          f"capacity-weighted ideal (goal >= {GOAL:.0%}); slowest vs the fastest host alone "
          f"{min(r['vs_fastest_alone'] for r in placed):.2f}× (goal >= 1)")
    return 0


def lab_sweep(args: argparse.Namespace, prefix: str) -> tuple[Path, float, list, list]:
    """Both modes on a lab of ``args.spec``, brought up and down here: the run directory,
    the sweep's seconds, the table rows and the verdict sentences."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    state = Lab(unique_name()).up(args.spec, workdir / "lab", subnet=free_subnet())
    try:
        inventory = workdir / "lab.yml"
        inventory.write_text(yaml.safe_dump(inventory_data(state), sort_keys=False))
        started = time.perf_counter()
        run_dir = run_sweep(inventory, workdir, args.size, args.repeats,
                            sum(h.workers for h in state.hosts), args.workloads)
        rows, sentences = table(run_dir)
    finally:
        down(state)
    return run_dir, time.perf_counter() - started, rows, sentences


def homogeneous(args: argparse.Namespace) -> int:
    """The ``--homogeneous`` run: both modes on equal hosts, and what placement costs."""
    load_before = os.getloadavg()
    run_dir, seconds, rows, _ = lab_sweep(args, "capacity-homogeneous-")
    load_after = os.getloadavg()
    costs = cost_rows(rows)
    print(f"\n{args.spec}, {args.size}, {args.repeats} repeats "
          f"({seconds:.0f} s, {run_dir}); load average before "
          f"{load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print_costs(costs)
    pairs = round_pairs(run_dir)
    pooled = pooled_cost(repeat_samples(pairs))
    print(f"pooled over {pooled['points']} points: {pooled['cost']:+.1%} "
          f"(95 % bootstrap interval {pooled['low']:+.1%} .. {pooled['high']:+.1%}; goal "
          f"within ±{HOMOGENEOUS_GOAL:.0%})")
    paired = paired_cost(pairs)
    print(f"paired by round over {paired['pairs']} pairs: {paired['cost']:+.1%} "
          f"(95 % bootstrap interval {paired['low']:+.1%} .. {paired['high']:+.1%})")
    out = ROOT / args.out
    out.with_suffix(".json").write_text(json.dumps(
        {"spec": args.spec, "size": args.size, "repeats": args.repeats,
         "workloads": list(args.workloads), "costs": costs, "pooled": pooled, "paired": paired,
         "load_before": load_before, "load_after": load_after}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
