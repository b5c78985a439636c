"""Per-point summary of a run: timings, speedup, efficiency and failures.

A *point* is one (workload, size, scheduler, workers) combination; its timed
repeats are the records that share those four values.  Only verified,
error-free repeats enter the timings; the others are counted in ``failed`` so
that a point whose every repeat failed still shows up (with NaN timings).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from clusterbench.analysis.fits import CURVE, amdahl_fits
from clusterbench.analysis.stats import SampleStats
from clusterbench.results.record import Record

__all__ = [
    "CSV_COLUMNS",
    "POINT",
    "SERIAL_SCHEDULER",
    "SUMMARY_COLUMNS",
    "amdahl_fits",
    "summarize",
]

POINT = [*CURVE, "workers"]
#: The scheduler whose time is the serial reference of a workload+size.
SERIAL_SCHEDULER = "synchronous"
_STATS = ["n", "median", "min", "max", "mean", "stdev", "iqr"]
SUMMARY_COLUMNS = [
    *POINT,
    *_STATS,
    "threads_per_worker",
    "slots",
    "speedup",
    "efficiency",
    "speedup_vs_serial",
    "serial_reference",
    "executor",
    "tasks",
    "task_overhead_s",
    "overhead_share",
    "failed",
    "errors",
]
#: The columns written to ``summary.csv``.
CSV_COLUMNS = [
    *POINT,
    "n",
    "median",
    "min",
    "max",
    "iqr",
    "speedup",
    "efficiency",
    "speedup_vs_serial",
    "serial_reference",
    "executor",
    "overhead_share",
    "failed",
]
_RECORD_FIELDS = [*POINT, "threads_per_worker", "seconds", "verified", "error", "detail",
                  "baseline"]
#: Execution facts a record may carry in ``metrics`` (see runner.execute._execution_facts).
_METRIC_FIELDS = ["executor", "tasks", "task_overhead_s"]


def summarize(records: Sequence[Record]) -> pd.DataFrame:
    """One row per sweep point, with statistics over its verified repeats.

    Parameters
    ----------
    records
        Records of one run (any order).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, sorted by workload, size, scheduler, workers.
        ``speedup`` is the median of the same curve's 1-worker point over this
        point's median, ``efficiency = speedup / workers``, ``speedup_vs_serial``
        uses the ``synchronous`` point of the same workload+size as reference
        — or of the record's ``baseline`` workload when that was measured too
        (named in ``serial_reference``); each is NaN when its reference is
        missing or failed.  ``executor`` says what actually ran (e.g. ``joblib
        loky``), ``tasks`` the median dask tasks per repeat and
        ``overhead_share = tasks × task_overhead_s / median``: the estimated part
        of the time spent on scheduling (NaN when not counted).  ``failed`` counts
        unverified or erroring repeats and ``errors`` is the tuple of their distinct
        messages (``error: detail``).
    """
    if not records:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    frame = pd.DataFrame([{name: getattr(r, name) for name in _RECORD_FIELDS}
                          | {name: r.metrics.get(name) for name in _METRIC_FIELDS}
                          for r in records])
    frame["ok"] = [r.verified and r.error is None for r in records]
    rows = [_point_row(key, group) for key, group in frame.groupby(POINT, sort=True)]
    summary = pd.DataFrame(rows)
    summary["speedup"] = _one_worker_reference(summary) / summary["median"]
    summary["efficiency"] = summary["speedup"] / summary["workers"]
    summary["serial_reference"], serial = _serial_reference(summary)
    summary["speedup_vs_serial"] = serial / summary["median"]
    summary["overhead_share"] = summary["tasks"] * summary["task_overhead_s"] / summary["median"]
    return summary[SUMMARY_COLUMNS].sort_values(POINT, ignore_index=True)


def _point_row(key: tuple, group: pd.DataFrame) -> dict:
    """Statistics, slots and failures of one point's repeats."""
    good, bad = group[group["ok"]], group[~group["ok"]]
    threads = int(group["threads_per_worker"].max())
    return {
        **dict(zip(POINT, key, strict=True)),
        **SampleStats.of(good["seconds"]).as_dict(),
        "threads_per_worker": threads,
        "slots": int(key[-1]) * threads,
        "baseline": _first(group["baseline"]),
        "executor": _first(good["executor"]) or _first(group["executor"]),
        "tasks": pd.to_numeric(good["tasks"], errors="coerce").median(),
        "task_overhead_s": pd.to_numeric(group["task_overhead_s"], errors="coerce").median(),
        "failed": len(bad),
        "errors": _messages(bad),
    }


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


def _one_worker_reference(summary: pd.DataFrame) -> pd.Series:
    """Median of the 1-worker point of each row's curve, aligned to *summary*'s rows."""
    base = summary.loc[summary["workers"] == 1, [*CURVE, "median"]]
    merged = summary[CURVE].merge(base, on=CURVE, how="left")
    return pd.Series(merged["median"].to_numpy(), index=summary.index)


def _serial_medians(summary: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(workload, size) → median of its ``synchronous`` point (lowest worker count)."""
    serial = summary[(summary["scheduler"] == SERIAL_SCHEDULER) & summary["median"].notna()]
    serial = serial.sort_values("workers").drop_duplicates(["workload", "size"])
    return {(w, s): m for w, s, m in zip(serial["workload"], serial["size"], serial["median"],
                                          strict=True)}


def _serial_reference(summary: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per row: the workload whose serial time it is compared with (its baseline when that
    was measured, else itself) and that workload's ``synchronous`` median at the same size.

    The serial scheduler ignores the worker count, so the lowest measured count is
    taken when several exist.
    """
    measured = _serial_medians(summary)
    names = [b if isinstance(b, str) and (b, s) in measured else w
             for w, s, b in zip(summary["workload"], summary["size"], summary["baseline"],
                                strict=True)]
    medians = [measured.get((n, s), float("nan")) for n, s in zip(names, summary["size"],
                                                                  strict=True)]
    return (pd.Series(names, index=summary.index, dtype=object),
            pd.Series(medians, index=summary.index, dtype=float))
