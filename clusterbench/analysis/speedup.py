"""Per-point summary of a run: timings, confidence intervals, speedup, both efficiencies
and failures.

A *point* is one (workload, size, scheduler, workers) combination; its timed
repeats are the records that share those four values.  Only verified,
error-free repeats on the planned worker set enter the timings; the others are
counted in ``failed`` (the workload failed) or ``changed`` (a worker was lost or
never used) so that a point whose every repeat failed still shows up (with NaN
timings).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clusterbench.analysis.capacity import CapacityModel
from clusterbench.analysis.fits import CURVE, amdahl_fits, karp_flatt
from clusterbench.analysis.recommend import recommended_column
from clusterbench.analysis.stats import SampleStats, median_ci, speedup_ci
from clusterbench.results.record import Record

__all__ = [
    "CSV_COLUMNS",
    "POINT",
    "SERIAL_SCHEDULER",
    "SUMMARY_COLUMNS",
    "UNDERESTIMATED_MARGIN",
    "amdahl_fits",
    "summarize",
]

POINT = [*CURVE, "workers"]
#: The scheduler whose time is the serial reference of a workload+size.
SERIAL_SCHEDULER = "synchronous"
#: A speedup this far above the capacity-weighted ideal means the capacity was measured low.
UNDERESTIMATED_MARGIN = 1.05
_STATS = ["n", "median", "min", "max", "mean", "stdev", "iqr"]
SUMMARY_COLUMNS = [
    *POINT,
    *_STATS,
    "ci_low",
    "ci_high",
    "cv",
    "noisy",
    "threads_per_worker",
    "slots",
    "scaling",
    "scale",
    "speedup",
    "speedup_ci_low",
    "speedup_ci_high",
    "efficiency",
    "ideal_capacity",
    "efficiency_capacity",
    "capacity_underestimated",
    "karp_flatt",
    "speedup_vs_serial",
    "serial_reference",
    "executor",
    "tasks",
    "task_overhead_s",
    "overhead_share",
    "too_small",
    "failed",
    "changed",
    "errors",
    "changes",
    "worker_names",
    "worker_order",
    "recommended_workers",
    "worker_activity",
]
#: The columns written to ``summary.csv``.
CSV_COLUMNS = [
    *POINT,
    "n",
    "median",
    "ci_low",
    "ci_high",
    "min",
    "max",
    "iqr",
    "cv",
    "noisy",
    "scaling",
    "scale",
    "speedup",
    "speedup_ci_low",
    "speedup_ci_high",
    "efficiency",
    "ideal_capacity",
    "efficiency_capacity",
    "capacity_underestimated",
    "karp_flatt",
    "speedup_vs_serial",
    "serial_reference",
    "executor",
    "overhead_share",
    "too_small",
    "failed",
    "changed",
]
_RECORD_FIELDS = [*POINT, "threads_per_worker", "seconds", "verified", "error", "detail",
                  "baseline", "worker_names", "worker_set_changed", "worker_set_note",
                  "scaling", "scale", "worker_activity"]
#: Execution facts a record may carry in ``metrics`` (see runner.execute._execution_facts).
_METRIC_FIELDS = ["executor", "tasks", "task_overhead_s", "problem_too_small"]


def summarize(records: Sequence[Record],
              environment: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per sweep point, with statistics over its counted repeats.

    Parameters
    ----------
    records
        Records of one run (any order).
    environment
        The run's ``environment.json`` (``hosts`` and ``calibration`` give the capacities);
        without it every capacity-weighted column is NaN except for trivial ideals.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, sorted by workload, size, scheduler, workers.
        A repeat counts when ``verified and error is None and not worker_set_changed``.
        ``ci_low/ci_high`` bound the median time (95 % bootstrap), ``cv`` is
        stdev / mean and ``noisy`` means cv > 10 %.  ``speedup`` is work per second over
        the same curve's 1-worker point, ``(median_1 / scale_1) / (median / scale)``
        (``scale`` is 1 for strong scaling), with a 95 % bootstrap interval
        ``speedup_ci_low/high`` from resampling both points.  ``efficiency = speedup /
        workers``; ``ideal_capacity`` is the capacity-weighted ideal (see
        :meth:`CapacityModel.ideal`), ``efficiency_capacity = speedup / ideal_capacity``,
        ``capacity_underestimated`` flags a speedup above 1.05 × that ideal and
        ``karp_flatt`` is the point's experimental serial fraction against it.
        ``speedup_vs_serial`` uses the ``synchronous`` point of the same workload+size
        as reference — or of the record's ``baseline`` workload when that was measured
        too (named in ``serial_reference``); each is NaN when its reference is missing
        or failed.  ``executor`` says what actually ran (e.g. ``joblib loky``),
        ``tasks`` the median dask tasks per repeat and ``overhead_share = tasks ×
        task_overhead_s / median``.  ``too_small`` is the workload's "problem too
        small" message.  ``failed`` counts unverified or erroring repeats and
        ``errors`` is the tuple of their distinct messages (``error: detail``);
        ``changed`` counts repeats whose executing worker set differed from the plan
        and ``changes`` holds their notes.  ``worker_order`` is the sweep's order of
        adding workers (``inventory``, ``fastest-first``, "" when not recorded), which
        ``recommended_workers`` (see :mod:`clusterbench.analysis.recommend`) relies on.
    """
    if not records:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    frame = pd.DataFrame([{name: getattr(r, name) for name in _RECORD_FIELDS}
                          | {name: r.metrics.get(name) for name in _METRIC_FIELDS}
                          for r in records])
    frame["ok"] = [r.verified and r.error is None for r in records]
    groups = frame.groupby(POINT, sort=True)
    summary = pd.DataFrame([_point_row(key, group) for key, group in groups])
    summary = summary.sort_values(POINT, ignore_index=True)
    _add_speedups(summary, CapacityModel.from_environment(environment))
    summary["serial_reference"], serial = _serial_reference(summary)
    summary["speedup_vs_serial"] = serial / _time_per_work(summary)
    summary["overhead_share"] = summary["tasks"] * summary["task_overhead_s"] / summary["median"]
    summary["worker_order"] = _worker_order(environment)
    summary["recommended_workers"] = recommended_column(summary)
    return summary[SUMMARY_COLUMNS]


def _point_row(key: tuple, group: pd.DataFrame) -> dict:
    """Statistics, slots, failures and changed worker sets of one point's repeats."""
    changed = group["worker_set_changed"].astype(bool)
    good, bad = group[group["ok"] & ~changed], group[~group["ok"]]
    stats = SampleStats.of(good["seconds"])
    threads = int(group["threads_per_worker"].max())
    ci_low, ci_high = median_ci(good["seconds"])
    return {
        **dict(zip(POINT, key, strict=True)),
        **stats.as_dict(),
        "ci_low": ci_low,
        "ci_high": ci_high,
        "cv": stats.cv,
        "noisy": stats.noisy,
        "threads_per_worker": threads,
        "slots": int(key[-1]) * threads,
        "scaling": _first(group["scaling"]) or "strong",
        "scale": _scale(good if len(good) else group),
        "baseline": _first(group["baseline"]),
        "worker_names": _names(group["worker_names"]),
        "executor": _first(good["executor"]) or _first(group["executor"]),
        "tasks": pd.to_numeric(good["tasks"], errors="coerce").median(),
        "task_overhead_s": pd.to_numeric(group["task_overhead_s"], errors="coerce").median(),
        "too_small": _first(group["problem_too_small"]) or "",
        "failed": len(bad),
        "errors": _messages(bad),
        "changed": int(changed.sum()),
        "changes": tuple(dict.fromkeys(n for n in group.loc[changed, "worker_set_note"] if n)),
        "worker_activity": median_activity(good["worker_activity"]),
        "_seconds": tuple(good["seconds"]),
    }


def median_activity(repeats: Sequence[Mapping[str, Mapping[str, float]]]
                    ) -> dict[str, dict[str, float]]:
    """Per worker, the median over counted repeats of each straggler-view figure
    (``tasks``, ``busy_s``, ``idle_end_s``; see ``Record.worker_activity``)."""
    by_worker: dict[str, dict[str, list[float]]] = {}
    for activity in repeats:
        for name, figures in (activity or {}).items():
            for figure, value in figures.items():
                by_worker.setdefault(name, {}).setdefault(figure, []).append(float(value))
    return {name: {figure: float(pd.Series(values).median()) for figure, values in
                   figures.items()} for name, figures in by_worker.items()}


def _scale(group: pd.DataFrame) -> float:
    scales = pd.to_numeric(group["scale"], errors="coerce").dropna()
    return float(scales.median()) if len(scales) else 1.0


def _worker_order(environment: Mapping[str, Any] | None) -> str:
    """The sweep's worker order (``inventory`` or ``fastest-first``; "" when unrecorded)."""
    scenario = (environment or {}).get("scenario")
    order = scenario.get("order") if isinstance(scenario, Mapping) else None
    return order if isinstance(order, str) else ""


def _names(column: pd.Series) -> tuple[str, ...]:
    """The planned worker set (the widest one recorded, should repeats disagree)."""
    return max((tuple(names) for names in column), key=len, default=())


def _first(values: pd.Series) -> str | None:
    present = [v for v in values if isinstance(v, str) and v]
    return present[0] if present else None


def _messages(failed: pd.DataFrame) -> tuple[str, ...]:
    """Distinct failure messages of a point, in first-seen order."""
    messages = []
    for error, detail in zip(failed["error"], failed["detail"], strict=True):
        head = error if isinstance(error, str) and error else "not verified"
        messages.append(f"{head}: {detail}" if detail else head)
    return tuple(dict.fromkeys(messages))


def _time_per_work(summary: pd.DataFrame) -> pd.Series:
    """Median seconds per unit of work (weak-scaling points do ``scale`` units)."""
    return summary["median"] / summary["scale"]


def _add_speedups(summary: pd.DataFrame, model: CapacityModel) -> None:
    """Speedup over the curve's 1-worker point, its CI, both ideals and efficiencies."""
    reference = {tuple(row[c] for c in CURVE): row
                 for row in summary[summary["workers"] == 1].to_dict("records")}
    columns: dict[str, list[float]] = {"speedup_ci_low": [], "speedup_ci_high": [],
                                       "ideal_capacity": [], "ref_per_work": []}
    for row in summary.to_dict("records"):
        ref = reference.get(tuple(row[c] for c in CURVE))
        low, high = _speedup_interval(row, ref)
        columns["speedup_ci_low"].append(low)
        columns["speedup_ci_high"].append(high)
        columns["ideal_capacity"].append(model.ideal(
            row["scheduler"], row["workers"], row["worker_names"],
            ref["worker_names"] if ref else ()) if ref else math.nan)
        columns["ref_per_work"].append(ref["median"] / ref["scale"] if ref else math.nan)
    for name, values in columns.items():
        summary[name] = values
    summary["speedup"] = summary.pop("ref_per_work") / _time_per_work(summary)
    summary["efficiency"] = summary["speedup"] / summary["workers"]
    summary["efficiency_capacity"] = summary["speedup"] / summary["ideal_capacity"]
    summary["capacity_underestimated"] = (summary["speedup"]
                                          > UNDERESTIMATED_MARGIN * summary["ideal_capacity"])
    summary["karp_flatt"] = karp_flatt(summary["speedup"], summary["ideal_capacity"])


def _speedup_interval(row: Mapping[str, Any], ref: Mapping[str, Any] | None
                      ) -> tuple[float, float]:
    """Bootstrap CI of the point's speedup; the reference point is 1× by definition."""
    if ref is None:
        return math.nan, math.nan
    if row["workers"] == 1:
        return (1.0, 1.0) if row["n"] else (math.nan, math.nan)
    return speedup_ci(ref["_seconds"], row["_seconds"], ref["scale"], row["scale"])


def _serial_medians(summary: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(workload, size) → seconds per work of its ``synchronous`` point (lowest count)."""
    serial = summary[(summary["scheduler"] == SERIAL_SCHEDULER) & summary["median"].notna()]
    serial = serial.sort_values("workers").drop_duplicates(["workload", "size"])
    per_work = _time_per_work(serial)
    return {(w, s): m for w, s, m in zip(serial["workload"], serial["size"], per_work,
                                          strict=True)}


def _serial_reference(summary: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per row: the workload whose serial time it is compared with (its baseline when that
    was measured, else itself) and that workload's ``synchronous`` time at the same size.

    The serial scheduler ignores the worker count, so the lowest measured count is
    taken when several exist.
    """
    measured = _serial_medians(summary)
    names = [b if isinstance(b, str) and (b, s) in measured else w
             for w, s, b in zip(summary["workload"], summary["size"], summary["baseline"],
                                strict=True)]
    medians = [measured.get((n, s), np.nan) for n, s in zip(names, summary["size"],
                                                            strict=True)]
    return (pd.Series(names, index=summary.index, dtype=object),
            pd.Series(medians, index=summary.index, dtype=float))
