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

The sets are the sweep's prefixes, so whether the recommended set is the best of its size
depends on the order the sweep added workers in (the summary's ``worker_order``):

* ``fastest-first``: each step added the next fastest worker, so the prefix is the fastest
  set of its size and the sentence says so;
* ``inventory`` (or unrecorded): the capacity each step added (the rise of
  ``ideal_capacity``) tells whether a worker left out is faster than one added before it;
  if so, or when capacities are unknown, the sentence says a fastest-first sweep is
  needed to be sure.  When the inventory order was fastest first anyway, it says that.

Pure pandas on the summary (``worker_names``, ``ideal_capacity`` per point); nothing is
measured here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

#: A further worker must cut the time by this share to be worth having (the same 5 % as the
#: verdict's marginal-gain rule).
THRESHOLD = 0.05
#: A later worker counts as faster than an earlier one only when its capacity is this much
#: higher: one worker's calibration reading can come out about 20 % low (README).
ORDER_TOLERANCE = 0.2
FASTEST_FIRST = "fastest-first"
CURVE = ["workload", "size", "scheduler"]
SERIAL_SCHEDULER = "synchronous"


@dataclass(frozen=True)
class Step:
    """Workers one step of a curve added, and what that step gained (a share of the time)."""

    added: tuple[str, ...]
    gain: float


@dataclass(frozen=True)
class Inversion:
    """A faster worker the sweep added after a slower one (capacity per worker of each step)."""

    faster: tuple[str, ...]
    slower: tuple[str, ...]
    faster_capacity: float
    slower_capacity: float


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
    #: How the sweep added workers: ``fastest-first``, ``inventory`` or "" (unrecorded).
    order: str = ""
    #: Whether each step's added capacity is known (from ``ideal_capacity``).
    capacities_known: bool = False
    #: A worker left out that is faster than one added before it (None: there is none).
    inversion: Inversion | None = None
    #: Workers of the curve's widest measured set.
    measured_workers: int = 0

    @property
    def best_of_its_size(self) -> bool:
        """Whether no other set of this many workers can be faster, as far as the sweep's
        order and the measured capacities tell (always True when nothing was left out)."""
        if len(self.workers) >= self.measured_workers or self.order == FASTEST_FIRST:
            return True
        return self.capacities_known and self.inversion is None

    def sentence(self, threshold: float = THRESHOLD) -> str:
        """``recommended workers: a-0, b-0 (1.9 s; ...); c-0 adds 3 % (below ...)``."""
        text = f"recommended workers: {name_list(self.workers)} ({_seconds(self.median)}"
        if len(self.workers) != self.best_workers:
            text += (f"; the best, {_seconds(self.best_median)} with {self.best_workers}, is "
                     f"within {threshold:.0%}")
        text += ")"
        costs = [_step_text(step, threshold) for step in self.beyond]
        costs = [c for c in costs if c] + [self.order_note()]
        return text + "".join(f"; {c}" for c in costs if c)

    def order_note(self) -> str:
        """What the sweep's order says about this set being the best of its size ("" when
        every measured worker is recommended: no choice was made)."""
        if len(self.workers) >= self.measured_workers:
            return ""
        if self.order == FASTEST_FIRST:
            return f"swept fastest first: the fastest {len(self.workers)} of the " \
                   f"{self.measured_workers} measured"
        swept = "swept in inventory order" if self.order == "inventory" else \
            "the sweep's order is not recorded"
        advice = "run with --order fastest-first to be sure no other set is faster"
        if self.inversion is not None:
            inv = self.inversion
            return (f"{swept}, and {name_list(inv.faster)} came after the slower "
                    f"{name_list(inv.slower)} (capacity {inv.faster_capacity:.2f} vs "
                    f"{inv.slower_capacity:.2f} per worker): {advice}")
        if not self.capacities_known:
            return f"{swept} and worker capacities unknown: {advice}"
        return f"{swept}, which was also fastest first by measured capacity"


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
    steps = tuple(Step(_added(names, i), times[i - 1] / times[i] - 1)
                  for i in range(chosen + 1, len(times)))
    workload, size, scheduler = key
    ordered = list(names[0])  # in the order the sweep added them
    for step_names in names[1:chosen + 1]:
        ordered += [n for n in step_names if n not in ordered]
    capacities = _step_capacities(good, names)
    known = all(math.isfinite(c) for c in capacities)
    return Recommendation(workload, size, scheduler, tuple(ordered), times[chosen],
                          times[best], len(names[best]), steps, order=_order(good),
                          capacities_known=known,
                          inversion=_inversion(names, capacities, chosen) if known else None,
                          measured_workers=len(names[-1]))


def _order(rows: pd.DataFrame) -> str:
    if "worker_order" not in rows.columns:
        return ""
    orders = {o for o in rows["worker_order"] if isinstance(o, str) and o}
    return orders.pop() if len(orders) == 1 else ""


def _step_capacities(rows: pd.DataFrame, names: Sequence[tuple[str, ...]]) -> list[float]:
    """Capacity per worker that each step added (the first step: the first set's), in
    units of the capacity-weighted ideal; NaN where unknown."""
    if "ideal_capacity" not in rows.columns:
        return [math.nan] * len(names)
    ideal = pd.to_numeric(rows["ideal_capacity"], errors="coerce").tolist()
    sizes = [len(names[0])] + [len(b) - len(a) for a, b in zip(names, names[1:], strict=False)]
    rises = [ideal[0]] + [b - a for a, b in zip(ideal, ideal[1:], strict=False)]
    return [rise / size for rise, size in zip(rises, sizes, strict=True)]


def _inversion(names: Sequence[tuple[str, ...]], capacities: Sequence[float],
               chosen: int) -> Inversion | None:
    """The largest inversion whose faster step was left out of the recommended set (an
    inversion inside the set does not change which workers it holds)."""
    found: tuple[float, int, int] | None = None
    for j in range(chosen + 1, len(names)):
        i = min(range(j), key=lambda k: capacities[k])
        ratio = capacities[j] / capacities[i] if capacities[i] > 0 else math.inf
        if capacities[j] > capacities[i] * (1 + ORDER_TOLERANCE) and (
                found is None or ratio > found[0]):
            found = (ratio, i, j)
    if found is None:
        return None
    _, i, j = found
    return Inversion(_added(names, j), _added(names, i), capacities[j], capacities[i])


def _added(names: Sequence[tuple[str, ...]], step: int) -> tuple[str, ...]:
    return names[0] if step == 0 else tuple(n for n in names[step] if n not in names[step - 1])


def _nested(names: Sequence[tuple[str, ...]]) -> bool:
    return all(set(a) < set(b) for a, b in zip(names, names[1:], strict=False))


def name_list(names: Sequence[str], shown: int = 5) -> str:
    """``a, b, c``; past ``shown + 1`` names ``a, b, c, d, e and 251 more`` (a 256-worker
    sweep's verdict listed every worker)."""
    if len(names) <= shown + 1:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def _step_text(step: Step, threshold: float) -> str:
    who = name_list(step.added)
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
