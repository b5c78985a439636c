"""A run directory in other tools' formats: pytest-benchmark JSON, tidy CSV and Parquet.

Reads only ``records.jsonl`` and ``environment.json`` (:class:`RunStore`), like the
analysis.  ``pytest-benchmark`` JSON has one benchmark per sweep point with its successful
repeats as rounds, so ``pytest-benchmark compare A.json B.json`` reads two runs; the tidy
tables have one row per repeat, every record field a column.
"""

from __future__ import annotations

import json
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from clusterbench.errors import UsageError
from clusterbench.results.record import Record
from clusterbench.results.store import RunStore, refuse_overwriting
from clusterbench.suggest import did_you_mean

FORMATS = ("pytest-benchmark", "csv", "parquet")
#: The pytest-benchmark JSON layout written when pytest-benchmark itself is not installed.
PYTEST_BENCHMARK_FORMAT = "5.1.0"
#: Timer of every repeat (``runner/backends.py``), named as pytest-benchmark names timers.
TIMER = "time.perf_counter"


@dataclass(frozen=True)
class Export:
    """What :func:`export_run` wrote.

    Attributes
    ----------
    path : Path
        The file written.
    rows : int
        Benchmarks (pytest-benchmark: one per point) or rows (tables: one per repeat).
    notes : tuple of str
        A torn last record set aside, and (pytest-benchmark) one line per point left out
        or cut down: failed repeats are not benchmark rounds.
    """

    path: Path
    rows: int
    notes: tuple[str, ...] = ()


def export_run(run_dir: str | Path, fmt: str, output: str | Path) -> Export:
    """Write the run in *run_dir* to *output* in format *fmt*.

    Parameters
    ----------
    run_dir
        A run directory (``records.jsonl`` + ``environment.json``).
    fmt
        One of :data:`FORMATS`.
    output
        The file to write (replaced when it exists).

    Returns
    -------
    Export

    Raises
    ------
    clusterbench.errors.UsageError
        A missing or non-run directory, an unknown format, an unwritable *output*.
    """
    check_format(fmt)
    store = open_run(run_dir)
    refuse_overwriting(output, "-o", store)
    records = store.measured()
    torn = [store.torn] if store.torn else []
    path = Path(output)
    if fmt == "pytest-benchmark":
        document, notes = pytest_benchmark_json(records, store.environment())
        _write(path, lambda p: p.write_text(json.dumps(document, indent=2) + "\n",
                                            encoding="utf-8"))
        return Export(path, len(document["benchmarks"]), tuple(torn + notes))
    frame = tidy_frame(records)
    if fmt == "csv":
        _write(path, lambda p: frame.to_csv(p, index=False))
    else:
        _write(path, lambda p: arrow_safe(frame).to_parquet(p, index=False, engine="pyarrow"))
    return Export(path, len(frame), tuple(torn))


def check_format(fmt: str) -> None:
    """Refuse a format that is not one of :data:`FORMATS`, with the closest one named.

    Raises
    ------
    clusterbench.errors.UsageError
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: not a format{did_you_mean(fmt, FORMATS)}; "
                         f"choose one of {', '.join(FORMATS)}")


def open_run(run_dir: str | Path) -> RunStore:
    """The run directory *run_dir*, checked.

    Raises
    ------
    clusterbench.errors.UsageError
        When it is missing or holds no ``records.jsonl``.
    """
    return RunStore.existing(run_dir)


def _write(path: Path, write: Any) -> None:
    """Call ``write(path)``; an OS error becomes one line naming *path*."""
    if path.is_dir():
        raise UsageError(f"-o {path}: is a directory; give a file name")
    try:
        write(path)
    except OSError as exc:
        raise UsageError(f"-o {path}: cannot write ({exc.strerror or exc})") from None


# --- pytest-benchmark JSON ------------------------------------------------------------------

def point_key(record: Record) -> tuple[str, str, str, int]:
    """A sweep point: workload, size, scheduler, workers."""
    return (record.workload, record.size, record.scheduler, record.workers)


def benchmark_name(key: tuple[str, str, str, int]) -> str:
    """``montecarlo[small-distributed-2]``."""
    workload, size, scheduler, workers = key
    return f"{workload}[{size}-{scheduler}-{workers}]"


def pytest_benchmark_json(records: Sequence[Record],
                          environment: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The pytest-benchmark JSON document of a run, and a note per point left out.

    Parameters
    ----------
    records
        The run's records; only repeats that count (:func:`counts`) become rounds.
    environment
        The run's ``environment.json``: ``machine_info`` and ``commit_info`` come from it.

    Returns
    -------
    document : dict
        ``machine_info``, ``commit_info``, ``benchmarks``, ``datetime``, ``version``.
    notes : list of str
        A point without a successful repeat is left out; one with some failed repeats keeps
        the others.  One line each.
    """
    points: dict[tuple[str, str, str, int], list[Record]] = {}
    for record in records:
        points.setdefault(point_key(record), []).append(record)
    benchmarks, notes = [], []
    for key in sorted(points):
        good = [r for r in points[key] if r.counts]
        dropped = len(points[key]) - len(good)
        if not good:
            notes.append(f"{benchmark_name(key)}: left out, none of its {dropped} repeat(s) "
                         f"succeeded")
            continue
        if dropped:
            notes.append(f"{benchmark_name(key)}: {dropped} failed repeat(s) left out, "
                         f"{len(good)} kept")
        benchmarks.append(_benchmark(key, good))
    document = {
        "machine_info": machine_info(environment),
        "commit_info": commit_info(environment),
        "benchmarks": benchmarks,
        "datetime": _finished(records),
        "version": _format_version(),
    }
    return document, notes


def _benchmark(key: tuple[str, str, str, int], good: list[Record]) -> dict[str, Any]:
    workload, size, scheduler, workers = key
    name = benchmark_name(key)
    first = good[0]
    data = [r.seconds for r in sorted(good, key=lambda r: (r.round, r.attempt, r.repeat))]
    return {
        "group": f"{workload}/{size}",
        "name": name,
        "fullname": f"clusterbench::{name}",
        "params": {"workload": workload, "size": size, "scheduler": scheduler,
                   "workers": workers},
        "param": f"{size}-{scheduler}-{workers}",
        "extra_info": {"run_id": first.run_id, "threads_per_worker": first.threads_per_worker,
                       "scaling": first.scaling, "scale": first.scale,
                       "workload_params": first.params},
        "options": {"timer": TIMER, "warmup": False, "disable_gc": False,
                    "min_rounds": len(data), "max_time": None, "min_time": None},
        "stats": {**stats(data), "data": data, "iterations": 1},
    }


def stats(data: Sequence[float]) -> dict[str, Any]:
    """The statistics ``pytest_benchmark.stats.Stats.as_dict`` computes, for *data*:
    by ``Stats`` itself when pytest-benchmark is installed, else by :func:`own_stats`.

    Parameters
    ----------
    data
        One duration per round, in seconds (at least one).
    """
    try:
        from pytest_benchmark.stats import Stats
    except ImportError:  # a runtime install without the test tools
        return own_stats(data)
    reference = Stats()
    for value in data:
        reference.update(value)
    return reference.as_dict()


def own_stats(data: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark 5.2's statistics, for when it is not installed.

    pytest-benchmark is a test dependency only, so its formulas are repeated here (quartiles
    by Wikipedia's methods 2 and 3, Tukey fences); ``tests/unit/test_export.py`` checks
    them against ``Stats`` itself (5.3 counts outliers differently: there only the
    location and spread statistics are compared).

    Parameters
    ----------
    data
        One duration per round, in seconds (at least one).

    Returns
    -------
    dict
        min, max, mean, stddev, rounds, median, iqr, q1, q3, iqr_outliers,
        stddev_outliers, outliers, ld15iqr, hd15iqr, ops, total.
    """
    ordered = sorted(data)
    rounds, total, mean = len(data), sum(data), statistics.mean(data)
    stddev = statistics.stdev(data) if rounds > 1 else 0
    q1, q3 = _quartiles(ordered)
    iqr = q3 - q1
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_outliers = sum(1 for x in data if x < low or x > high)
    stddev_outliers = sum(1 for x in data if x < mean - stddev or x > mean + stddev)
    return {
        "min": ordered[0], "max": ordered[-1], "mean": mean, "stddev": stddev,
        "rounds": rounds, "median": statistics.median(data), "iqr": iqr, "q1": q1, "q3": q3,
        "iqr_outliers": iqr_outliers, "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": ordered[0] if rounds == 1 else ordered[bisect_left(ordered, low)],
        "hd15iqr": ordered[min(bisect_right(ordered, high), rounds - 1)],
        "ops": rounds / total if total else 0, "total": total,
    }


def _quartiles(ordered: Sequence[float]) -> tuple[float, float]:
    """Q1 and Q3 as pytest-benchmark computes them (method 3 for odd counts, else 2)."""
    n = len(ordered)
    if n == 1:
        return ordered[0], ordered[0]
    if n % 2 == 0:
        return statistics.median(ordered[:n // 2]), statistics.median(ordered[n // 2:])
    k, rest = divmod(n, 4)
    if rest == 1:
        return (0.25 * ordered[k - 1] + 0.75 * ordered[k],
                0.75 * ordered[3 * k] + 0.25 * ordered[3 * k + 1])
    return (0.75 * ordered[k] + 0.25 * ordered[k + 1],
            0.25 * ordered[3 * k + 1] + 0.75 * ordered[3 * k + 2])


def machine_info(environment: dict[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's ``machine_info`` from ``environment.json`` (what it recorded)."""
    platform_text = str(environment.get("os") or "")
    return {
        "node": environment.get("hostname"),
        "processor": environment.get("cpu_model"),
        "machine": environment.get("machine"),
        "python_version": environment.get("python"),
        "python_executable": environment.get("python_executable"),
        "system": platform_text.split("-", 1)[0] or None,
        "platform": platform_text or None,
        "cpu": {"brand_raw": environment.get("cpu_model"), "count": environment.get("cores"),
                "arch": environment.get("machine")},
        "memory_bytes": environment.get("memory_bytes"),
        "blas": environment.get("blas", []),
        "packages": environment.get("packages", {}),
    }


def commit_info(environment: dict[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's ``commit_info``: the commit the run measured and whether the
    checkout differed from it."""
    return {"id": environment.get("git_commit") or "unknown",
            "dirty": environment.get("git_dirty"), "project": "clusterbench"}


def _finished(records: Iterable[Record]) -> str:
    """The last repeat's timestamp (when the run finished), else now; ISO 8601."""
    stamps = [r.timestamp for r in records if r.timestamp]
    return max(stamps) if stamps else datetime.now(timezone.utc).isoformat()


def _format_version() -> str:
    try:
        return metadata.version("pytest-benchmark")
    except metadata.PackageNotFoundError:
        return PYTEST_BENCHMARK_FORMAT


# --- tidy tables ----------------------------------------------------------------------------

def tidy_frame(records: Sequence[Record]) -> Any:
    """One row per repeat, every record field a column (``run_id`` included).

    Nested dicts (``params``, ``metrics``) become dotted columns (``metrics.tasks``); lists
    (``worker_names``, ...) become JSON strings.  Failed repeats are kept: ``verified``,
    ``error`` and ``worker_set_changed`` say which rows count.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    rows = [_keep_empty(json.loads(record.to_json())) for record in records]
    frame = pd.json_normalize(rows, sep=".") if rows else pd.DataFrame(columns=["run_id"])
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(_scalar)
    first = ["run_id", "workload", "size", "scheduler", "workers", "repeat", "seconds"]
    ordered = [c for c in first if c in frame.columns]
    return frame[ordered + sorted(c for c in frame.columns if c not in ordered)]


def _keep_empty(row: dict[str, Any]) -> dict[str, Any]:
    """An empty dict as ``"{}"`` text: json_normalize would drop its column."""
    return {key: "{}" if value == {} else value for key, value in row.items()}


def _scalar(value: Any) -> Any:
    """Lists (and dicts json_normalize left whole) as JSON text."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def arrow_safe(frame: Any) -> Any:
    """*frame* with every column Arrow can type: a column mixing value types (a metric
    that is a number in one repeat, text in another) becomes text."""
    import pandas as pd

    fixed = frame.copy()
    for column in fixed.columns:
        values = fixed[column].dropna()
        if fixed[column].dtype == object and len({type(v) for v in values}) > 1:
            fixed[column] = fixed[column].map(lambda v: None if pd.isna(v) else str(v))
    return fixed
