"""Which workers to use: the smallest measured worker set within reach of the best time,
and what each further worker adds (or costs).

A sweep adds workers one count at a time (in inventory order, or fastest host first with
``--order fastest-first``), so each curve measures nested worker sets.  Per curve
(workload × size × mode):

* the **recommended set** is the smallest measured set whose median time is within
  :data:`THRESHOLD` of the curve's best median: more workers would gain less than that;
* every worker added after it is described by what the step that added it gained,
  ``median(before) / median(after) - 1``: below the threshold it "adds 3 % (below the
  5 % threshold)", below zero it "makes the run slower".

Pure pandas on the summary (``worker_names`` per point); nothing is measured here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

#: A further worker must cut the time by this share to be worth having (the same 5 % as the
#: verdict's marginal-gain rule).
THRESHOLD = 0.05
CURVE = ["workload", "size", "scheduler"]
SERIAL_SCHEDULER = "synchronous"


@dataclass(frozen=True)
class Step:
    """Workers one step of a curve added, and what that step gained (a share of the time)."""

    added: tuple[str, ...]
    gain: float


@dataclass(frozen=True)
class Recommendation:
    """The recommended worker set of one curve, and the steps beyond it that did not pay."""

    workload: str
    size: str
    scheduler: str
    workers: tuple[str, ...]
    median: float
    best_median: float
    best_workers: int
    beyond: tuple[Step, ...]

    def sentence(self, threshold: float = THRESHOLD) -> str:
        """``recommended workers: a-0, b-0 (1.9 s; ...); c-0 adds 3 % (below ...)``."""
        names = ", ".join(self.workers) if len(self.workers) <= 6 \
            else f"{', '.join(self.workers[:5])} and {len(self.workers) - 5} more"
        text = f"recommended workers: {names} ({_seconds(self.median)}"
        if len(self.workers) != self.best_workers:
            text += (f"; the best, {_seconds(self.best_median)} with {self.best_workers}, is "
                     f"within {threshold:.0%}")
        text += ")"
        costs = [_step_text(step, threshold) for step in self.beyond]
        costs = [c for c in costs if c]
        return text + ("; " + "; ".join(costs) if costs else "")


def recommend(summary: pd.DataFrame, threshold: float = THRESHOLD) -> list[Recommendation]:
    """One :class:`Recommendation` per curve with at least two measured worker counts.

    Parameters
    ----------
    summary
        :func:`clusterbench.analysis.speedup.summarize` output (``median``,
        ``worker_names``).
    threshold
        Share of the time a further worker must save.

    Returns
    -------
    list of Recommendation
        Curves whose worker sets are not nested (a sweep that reordered its workers)
        are left out: their steps say nothing about one worker.
    """
    result: list[Recommendation] = []
    if not {"worker_names", "median", *CURVE} <= set(summary.columns):
        return result  # an old or hand-made summary: nothing to recommend from
    curves = summary[summary["scheduler"] != SERIAL_SCHEDULER]
    for key, rows in curves.groupby(CURVE, sort=True):
        found = _recommend(tuple(key), rows.sort_values("workers"), threshold)
        if found is not None:
            result.append(found)
    return result


def recommended_column(summary: pd.DataFrame, threshold: float = THRESHOLD) -> list:
    """The ``recommended_workers`` column of *summary*: its curve's set on every row of
    the curve, None where there is none."""
    by_curve = {(r.workload, r.size, r.scheduler): r.workers
                for r in recommend(summary, threshold)}
    return [by_curve.get((row["workload"], row["size"], row["scheduler"]))
            for row in summary.to_dict("records")]


def _recommend(key: tuple, rows: pd.DataFrame, threshold: float) -> Recommendation | None:
    medians = pd.to_numeric(rows["median"], errors="coerce")
    good = rows[medians.notna() & (medians > 0)]
    names = [tuple(n) for n in good["worker_names"]]
    if len(good) < 2 or not all(names) or not _nested(names):
        return None
    times = [float(m) for m in good["median"]]
    best = min(range(len(times)), key=lambda i: (times[i], i))
    chosen = next(i for i in range(len(times)) if times[i] <= times[best] * (1 + threshold))
    steps = tuple(Step(tuple(n for n in names[i] if n not in names[i - 1]),
                       times[i - 1] / times[i] - 1) for i in range(chosen + 1, len(times)))
    workload, size, scheduler = key
    ordered = list(names[0])  # in the order the sweep added them
    for step_names in names[1:chosen + 1]:
        ordered += [n for n in step_names if n not in ordered]
    return Recommendation(workload, size, scheduler, tuple(ordered), times[chosen],
                          times[best], len(names[best]), steps)


def _nested(names: Sequence[tuple[str, ...]]) -> bool:
    return all(set(a) < set(b) for a, b in zip(names, names[1:], strict=False))


def _step_text(step: Step, threshold: float) -> str:
    who = ", ".join(step.added)
    verb = "adds" if len(step.added) == 1 else "add"
    if not math.isfinite(step.gain):
        return ""
    if step.gain < 0:
        return f"{who} {'makes' if len(step.added) == 1 else 'make'} the run slower " \
               f"({step.gain:+.0%})"
    if step.gain < threshold:
        return f"{who} {verb} {step.gain:.0%} (below the {threshold:.0%} threshold)"
    return f"{who} {verb} {step.gain:.0%}"


def _seconds(value: float) -> str:
    return f"{value:.3g} s"
