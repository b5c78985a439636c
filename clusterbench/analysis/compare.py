"""Two runs side by side: per sweep point, how the median time moved and whether it clearly did.

A change is called only when it is both large (beyond a relative threshold)
and clear: every verified repeat of one run is slower than every repeat of the
other, with at least :data:`MIN_REPEATS` repeats on each side.  For 3 against 3,
complete separation *is* the one-sided exact Mann–Whitney U result at p = 0.05
(1 of C(6, 3) = 20 orderings); with 2 against 2 it happens by chance once in 6,
so such points are ``too few repeats``.  The rule needs no distributional
assumption on noisy shared cores.  Everything else is ``same`` (within the
threshold) or ``unclear`` (beyond it, but the repeats overlap).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from clusterbench.analysis.stats import SampleStats
from clusterbench.results.record import Record

#: Verified repeats each run needs before a change is called (see the module docstring).
MIN_REPEATS = 3

#: What identifies a sweep point across runs.
POINT = ("workload", "size", "scheduler", "workers")

#: Top-level environment.json fields that make two runs' machines different.
MACHINE_FIELDS = ("hostname", "cpu_model", "cores", "memory_bytes", "os", "machine", "python")

#: Relative change of the calibrated machine speed or capacity worth a warning.
CALIBRATION_TOLERANCE = 0.10


@dataclass(frozen=True)
class Change:
    """How one sweep point's verified times moved from run A to run B."""

    before: SampleStats
    after: SampleStats

    @property
    def ratio(self) -> float:
        """Median of B / median of A (> 1: B is slower)."""
        return self.after.median / self.before.median

    def verdict(self, threshold: float) -> str:
        """``slower``, ``faster``, ``unclear``, ``too few repeats`` or ``same``."""
        if self.before.n == 0 or self.after.n == 0:
            return "no verified repeat"
        if abs(self.ratio - 1.0) <= threshold:
            return "same"
        if min(self.before.n, self.after.n) < MIN_REPEATS:
            return "too few repeats"
        if self.ratio > 1.0 and self.after.min > self.before.max:
            return "slower"
        if self.ratio < 1.0 and self.after.max < self.before.min:
            return "faster"
        return "unclear"


def compare_records(before: Sequence[Record], after: Sequence[Record],
                    threshold: float) -> pd.DataFrame:
    """One row per sweep point present in either run.

    Parameters
    ----------
    before, after
        Records of run A and run B.
    threshold
        Relative change in the median below which a point is ``same`` (0.05 = 5 %).

    Returns
    -------
    pandas.DataFrame
        Columns ``workload, size, scheduler, workers, n_a, median_a, n_b, median_b,
        ratio, verdict``, sorted by point.  A point in one run only has verdict
        ``only in A`` / ``only in B``; one whose workload parameters differ (e.g.
        ``n_paths``) has ``params differ``: its times measure different work.
    """
    points_a, points_b = _points(before), _points(after)
    rows = []
    for key in sorted(points_a.keys() | points_b.keys()):
        row = _row(points_a.get(key), points_b.get(key), threshold)
        rows.append(dict(zip(POINT, key, strict=True)) | row)
    columns = [*POINT, "n_a", "median_a", "n_b", "median_b", "ratio", "verdict"]
    return pd.DataFrame(rows, columns=columns)


@dataclass
class _Point:
    """The verified seconds of one sweep point of one run, and its workload parameters."""

    params: str
    seconds: list[float]


def _row(a: _Point | None, b: _Point | None, threshold: float) -> dict[str, Any]:
    stats_a = SampleStats.of(a.seconds if a else [])
    stats_b = SampleStats.of(b.seconds if b else [])
    change = Change(stats_a, stats_b)
    if a is None or b is None:
        verdict = "only in B" if a is None else "only in A"
    elif a.params != b.params:
        verdict = "params differ"
    else:
        verdict = change.verdict(threshold)
    # An empty side has a NaN median, so its ratio is NaN too.
    return {"n_a": stats_a.n, "median_a": stats_a.median, "n_b": stats_b.n,
            "median_b": stats_b.median, "ratio": change.ratio, "verdict": verdict}


def _points(records: Sequence[Record]) -> dict[tuple[Any, ...], _Point]:
    """Point → its counted seconds (``[]`` when every repeat failed) and parameters.

    A repeat counts as in the run's own summary: verified, without error and on the
    planned worker set.
    """
    points: dict[tuple[Any, ...], _Point] = {}
    for record in records:
        key = tuple(getattr(record, name) for name in POINT)
        params = json.dumps(record.params, sort_keys=True, default=str)
        point = points.setdefault(key, _Point(params, []))
        if record.counts:
            point.seconds.append(record.seconds)
    return points


def environment_differences(env_a: Mapping[str, Any], env_b: Mapping[str, Any]) -> list[str]:
    """What differs between two runs' ``environment.json`` that can move timings.

    Parameters
    ----------
    env_a, env_b
        The two environments (``{}`` when a run has none).

    Returns
    -------
    list of str
        One line each: machine fields, package versions, BLAS libraries, the code
        (commit and uncommitted changes) and the machine's measured speed and
        capacity from the runs' calibrations.  Empty when nothing differs.
    """
    missing = [label for label, env in (("first", env_a), ("second", env_b)) if not env]
    if missing:  # one line, not every field "vs None"
        return [f"environment: the {' and '.join(missing)} run has no environment.json, so "
                "its machine, packages and calibration cannot be compared"]
    lines = [f"{name}: {env_a.get(name)} vs {env_b.get(name)}" for name in MACHINE_FIELDS
             if env_a.get(name) != env_b.get(name)]
    lines += _mapping_differences("package", env_a.get("packages", {}), env_b.get("packages", {}))
    if _blas(env_a) != _blas(env_b):
        lines.append(f"BLAS: {_blas(env_a)} vs {_blas(env_b)}")
    lines += _code_differences(env_a, env_b)
    return lines + _calibration_differences(env_a.get("calibration"), env_b.get("calibration"))


def _mapping_differences(label: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    names = sorted(a.keys() | b.keys())
    return [f"{label} {name}: {a.get(name)} vs {b.get(name)}" for name in names
            if a.get(name) != b.get(name)]


def _blas(env: Mapping[str, Any]) -> list[str]:
    pools = env.get("blas", [])
    return sorted(f"{pool.get('internal_api')} {pool.get('version')}" for pool in pools)


def _code_differences(env_a: Mapping[str, Any], env_b: Mapping[str, Any]) -> list[str]:
    lines = []
    if env_a.get("git_commit") != env_b.get("git_commit"):
        lines.append(f"code: commit {_short(env_a)} vs {_short(env_b)}")
    if bool(env_a.get("git_dirty")) != bool(env_b.get("git_dirty")):
        lines.append(f"code: uncommitted changes {_dirty(env_a)} vs {_dirty(env_b)}")
    return lines


def code_notes(env_a: Mapping[str, Any], env_b: Mapping[str, Any]) -> list[str]:
    """Runs that measured uncommitted code: their commit does not say what ran."""
    return [f"run {label} measured uncommitted changes on top of {_short(env)}"
            for label, env in (("A", env_a), ("B", env_b)) if env.get("git_dirty")]


def _dirty(env: Mapping[str, Any]) -> str:
    return "yes" if env.get("git_dirty") else "no"


def _short(env: Mapping[str, Any]) -> str:
    commit = env.get("git_commit")
    return commit[:10] if commit else "unknown"


def _calibration_differences(cal_a: Mapping[str, Any] | None,
                             cal_b: Mapping[str, Any] | None) -> list[str]:
    """The fixed CPU kernel's time and the k-process capacity, when they moved by > 10 %.

    Back-to-back runs on one shared 2-core VM read capacities 5–8 % apart; 10 % is
    past that noise.
    """
    if not cal_a or not cal_b:
        return []
    lines = []
    kernel_a, kernel_b = cal_a.get("kernel_seconds"), cal_b.get("kernel_seconds")
    if kernel_a and kernel_b and abs(kernel_b / kernel_a - 1) > CALIBRATION_TOLERANCE:
        lines.append(f"machine speed: reference kernel {kernel_a:.3f} s vs {kernel_b:.3f} s "
                     f"({kernel_b / kernel_a:.2f}×)")
    capacity_a, capacity_b = cal_a.get("capacity", {}), cal_b.get("capacity", {})
    for k in sorted(capacity_a.keys() & capacity_b.keys(), key=int):
        if abs(capacity_b[k] / capacity_a[k] - 1) > CALIBRATION_TOLERANCE:
            lines.append(f"capacity of {k} processes: {capacity_a[k]:.2f}× vs {capacity_b[k]:.2f}×")
    return lines
