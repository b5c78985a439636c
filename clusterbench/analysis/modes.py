"""Comparing execution modes: the widest point per mode, share of the machine's capacity,
too-fine tasks and the calibrated per-task overhead.

All functions take the per-point summary (:func:`clusterbench.analysis.speedup.summarize`)
and/or the ``calibration`` block of ``environment.json``
(:class:`clusterbench.runner.calibrate.Calibration`), so a report can be redrawn
from the run directory alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from clusterbench.analysis.capacity import machine_checks
from clusterbench.analysis.speedup import SERIAL_SCHEDULER, UNDERESTIMATED_MARGIN
from clusterbench.constants import MAX_OVERHEAD_SHARE

__all__ = [
    "MAX_OVERHEAD_SHARE",
    "capacity_shares",
    "overhead_rows",
    "too_fine",
    "widest_points",
]


def widest_points(summary: pd.DataFrame) -> pd.DataFrame:
    """Per workload, size and mode, the point with the most workers (the mode's best shot).

    Parameters
    ----------
    summary
        The per-point summary.

    Returns
    -------
    pandas.DataFrame
        A subset of *summary*'s rows, sorted by workload, size and scheduler.
    """
    if summary.empty:
        return summary
    ordered = summary.sort_values(["workload", "size", "scheduler", "workers"])
    widest = ordered.drop_duplicates(["workload", "size", "scheduler"], keep="last")
    return widest.reset_index(drop=True)


def too_fine(summary: pd.DataFrame, limit: float = MAX_OVERHEAD_SHARE) -> pd.DataFrame:
    """Points whose estimated scheduling overhead exceeds *limit* of their time.

    The estimate is ``tasks × calibrated seconds per task / median seconds``
    (``overhead_share``); points without a task count (joblib-driven work)
    cannot be judged and are never listed.
    """
    if summary.empty or "overhead_share" not in summary:
        return summary.iloc[0:0]
    shares = pd.to_numeric(summary["overhead_share"], errors="coerce")
    return summary[shares > limit].reset_index(drop=True)


def capacity_shares(summary: pd.DataFrame, capacity: Mapping[str, float] | None,
                    checks: Sequence[Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """For each workload and worker count ≥ 2: the best mode's speedup vs the machine's.

    The machine's capacity is a ceiling, so the best of its checks (start, middle and end
    of the sweep) is used; noise only ever slows a check down.  A share is never above
    100 %: a speedup more than 5 % above the ceiling means the ceiling was measured low
    and is flagged ``underestimated`` (its share is NaN); one within 5 % is at capacity.

    Parameters
    ----------
    summary
        The per-point summary.
    capacity
        ``{k: speedup of k processes of a fixed CPU kernel}`` from the run's
        calibration (keys may be strings, as stored in JSON): the start check.
    checks
        ``calibration.capacity_checks`` (``[{"at": ..., "capacity": {k: ...}}, ...]``),
        when recorded; they replace *capacity*.

    Returns
    -------
    pandas.DataFrame
        Columns workload, size, workers, best_mode, speedup_vs_serial, capacity (best
        check), capacity_low (worst check), share (speedup / capacity, at most 1.0) and
        underestimated.  Empty without a capacity measurement.
    """
    columns = ["workload", "size", "workers", "best_mode", "speedup_vs_serial", "capacity",
               "capacity_low", "share", "underestimated"]
    measured = [values for _, values in machine_checks(capacity, checks)]
    candidates = summary[(summary["scheduler"] != SERIAL_SCHEDULER) & (summary["workers"] >= 2)
                         & summary["speedup_vs_serial"].notna()]
    rows = []
    for (workload, size, workers), group in candidates.groupby(["workload", "size", "workers"]):
        values = [check[workers] for check in measured if workers in check]
        if not values:
            continue
        best = group.loc[group["speedup_vs_serial"].idxmax()]
        speedup, ceiling = float(best["speedup_vs_serial"]), max(values)
        over = speedup > UNDERESTIMATED_MARGIN * ceiling
        share = math.nan if over else min(speedup / ceiling, 1.0)
        rows.append([workload, size, int(workers), best["scheduler"], speedup, ceiling,
                     min(values), share, over])
    return pd.DataFrame(rows, columns=columns)


def overhead_rows(calibration: Mapping[str, Any] | None) -> list[tuple[str, int, float]]:
    """``(mode, workers, microseconds per task)`` from a stored calibration, sorted by cost."""
    if not calibration:
        return []
    widths = calibration.get("overhead_workers", {})
    rows = [(mode, int(widths.get(mode, 1)), float(seconds) * 1e6)
            for mode, seconds in calibration.get("task_overhead", {}).items()]
    return sorted(rows, key=lambda row: row[2])
