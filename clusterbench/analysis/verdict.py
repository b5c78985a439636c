"""One plain sentence per curve: how much of its capacity a workload uses, what caps it and
where adding a worker stops paying off.

The rule: adding a worker stops paying off at the first point whose capacity-efficiency
(speedup / capacity-weighted ideal) drops below :data:`MIN_EFFICIENCY`, or whose marginal
gain per added capacity ``(S_k - S_prev) / (C_k - C_prev)`` (ideal: 1.0) drops below
:data:`MIN_MARGINAL_GAIN`.  When no measured point stops, the curve's fit predicts
where it would, at the mean capacity per worker of the widest measured set.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clusterbench.analysis.fits import CURVE, LAWS
from clusterbench.analysis.recommend import recommend
from clusterbench.analysis.speedup import UNDERESTIMATED_MARGIN

SERIAL_SCHEDULER = "synchronous"
MIN_EFFICIENCY = 0.5
MIN_MARGINAL_GAIN = 0.05
#: A fitted cap this much below the best measured speedup means the law does not fit.
MISFIT = 1.05
#: A fitted cap above this is no cap anyone can reach ("8.85e+12×" read as a number).
NO_CAP = 1_000.0
#: Predictions look this many workers ahead at most ("no stop in sight" beyond).
PREDICTION_HORIZON = 100_000


@dataclass(frozen=True)
class Verdict:
    """The verdict on one curve (workload × size × scheduler)."""

    workload: str
    size: str
    scheduler: str
    sentence: str
    #: Worker count past which adding a worker stops paying off (NaN: no stop found).
    stops_past: float
    #: Whether ``stops_past`` comes from the fit rather than from a measured point.
    predicted: bool
    #: Whether some point with more than one worker ran slower than one worker.
    slower: bool


@dataclass(frozen=True)
class _Curve:
    """A curve's measured points in the units the verdict judges them in."""

    workers: np.ndarray
    speedup: np.ndarray
    ideal: np.ndarray
    naive: bool  # no capacity measured: the ideal is the worker count


def verdicts(summary: pd.DataFrame, fits: pd.DataFrame) -> list[Verdict]:
    """One :class:`Verdict` per workload × size × non-serial scheduler of a summary.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    fits
        Output of :func:`clusterbench.analysis.fits.scaling_fits`.

    Returns
    -------
    list of Verdict
        In the summary's order.
    """
    fitted = {tuple(row[c] for c in CURVE): row for row in fits.to_dict("records")}
    advice = {(r.workload, r.size, r.scheduler): r.sentence() for r in recommend(summary)}
    result = []
    for key, rows in summary[summary["scheduler"] != SERIAL_SCHEDULER].groupby(CURVE,
                                                                                 sort=True):
        verdict = _verdict(key, rows.sort_values("workers"), fitted.get(key))
        if tuple(key) in advice:  # which workers to use, and which cost more than they add
            sentence = f"{verdict.sentence[:-1]}; {advice[tuple(key)]}."
            verdict = dataclasses.replace(verdict, sentence=sentence)
        result.append(verdict)
    return result


def _verdict(key: tuple, rows: pd.DataFrame, fit: Mapping[str, Any] | None) -> Verdict:
    workload, size, scheduler = key
    label = f"{workload}/{scheduler} ({size})"
    curve = _curve(rows)
    flags = _flags(rows)
    if curve.workers.size < 2:
        reason = ("only one worker count measured: nothing to judge" if curve.workers.size
                  else "no speedup: the 1-worker point is missing or failed")
        parts = [reason] + flags
        return Verdict(workload, size, scheduler, _sentence(label, parts), math.nan, False,
                       False)
    stop = measured_stop(curve)
    slower = [i for i in range(curve.workers.size)
              if curve.workers[i] > 1 and curve.speedup[i] < 1.0]
    parts = [_slower_part(curve, slower)] if slower else _reach_part(curve, stop)
    parts.append(_fit_part(fit, float(np.nanmax(curve.speedup))))
    predicted = stop is None
    if stop is None:
        stop = predicted_stop(curve, fit)
    parts.append(_stop_part(stop, predicted, fit))
    parts += flags
    stops_past = stop[0] if stop else math.nan
    return Verdict(workload, size, scheduler, _sentence(label, parts), stops_past, predicted,
                   bool(slower))


def _sentence(label: str, parts: list[str]) -> str:
    return f"{label}: " + "; ".join(part for part in parts if part) + "."


def _curve(rows: pd.DataFrame) -> _Curve:
    """Points with a finite speedup; ideal = capacity-weighted, or workers when unknown."""
    good = rows[np.isfinite(pd.to_numeric(rows["speedup"], errors="coerce"))]
    ideal = pd.to_numeric(good["ideal_capacity"], errors="coerce").to_numpy(dtype=float)
    workers = good["workers"].to_numpy(dtype=float)
    naive = not np.isfinite(ideal).all()
    return _Curve(workers, good["speedup"].to_numpy(dtype=float),
                  workers if naive else ideal, naive)


def measured_stop(curve: _Curve) -> tuple[int, str] | None:
    """First measured point where adding workers stops paying off.

    Parameters
    ----------
    curve
        The curve's points, sorted by workers.

    Returns
    -------
    tuple or None
        ``(workers of the previous point, reason)``, or None when every point pays off.
    """
    what = _ideal_name(curve)
    for i in range(1, curve.workers.size):
        k, efficiency = int(curve.workers[i]), curve.speedup[i] / curve.ideal[i]
        if efficiency < MIN_EFFICIENCY:
            return int(curve.workers[i - 1]), (f"{_below(efficiency)} of the {what} at {k} "
                                               f"workers, below {MIN_EFFICIENCY:.0%}")
        added = curve.ideal[i] - curve.ideal[i - 1]
        if added <= 0:
            continue  # the worker added no capacity: its gain per capacity is undefined
        gain = (curve.speedup[i] - curve.speedup[i - 1]) / added
        if gain < MIN_MARGINAL_GAIN:
            return int(curve.workers[i - 1]), (f"marginal gain {_below(gain)} < "
                                               f"{MIN_MARGINAL_GAIN:.0%} from "
                                               f"{int(curve.workers[i - 1])} to {k} workers")
    return None


def predicted_stop(curve: _Curve, fit: Mapping[str, Any] | None) -> tuple[int, str] | None:
    """Where the fitted law says adding a worker stops paying off.

    Parameters
    ----------
    curve
        The measured curve (its widest point gives the mean capacity per worker).
    fit
        The curve's row of :func:`clusterbench.analysis.fits.scaling_fits`.

    Returns
    -------
    tuple or None
        ``(workers past which it stops, reason)``; None without a usable fit or when no
        stop lies within :data:`PREDICTION_HORIZON` workers.
    """
    if fit is None or not math.isfinite(fit["serial_fraction"]):
        return None
    widest = int(np.argmax(curve.workers))
    per_worker = curve.ideal[widest] / curve.workers[widest]
    if not per_worker > 0:
        return None
    law, fraction = LAWS[fit["law"]], fit["serial_fraction"]
    n = np.arange(int(curve.workers[widest]), PREDICTION_HORIZON + 1, dtype=float)
    speedup = law(np.maximum(n * per_worker, 1.0), fraction)
    efficiency = speedup[1:] / np.maximum(n[1:] * per_worker, 1.0)
    gain = np.diff(speedup) / per_worker
    failing = (efficiency < MIN_EFFICIENCY) | (gain < MIN_MARGINAL_GAIN)
    if not failing.any():
        return None
    first = int(np.argmax(failing))
    kind = "efficiency" if curve.naive else "capacity-efficiency"
    reason = (f"{kind} {_below(efficiency[first])} < {MIN_EFFICIENCY:.0%}"
              if efficiency[first] < MIN_EFFICIENCY
              else f"marginal gain {_below(gain[first])} < {MIN_MARGINAL_GAIN:.0%}")
    return int(n[first]), reason


def _ideal_name(curve: _Curve) -> str:
    return "naive ideal (no capacity measured)" if curve.naive else "capacity-weighted ideal"


def _slower_part(curve: _Curve, slower: list[int]) -> str:
    what = _ideal_name(curve)
    points = [f"{curve.speedup[i]:.2f}× at {int(curve.workers[i])} workers where the {what} "
              f"is {curve.ideal[i]:.2f}×" for i in slower]
    return "adding workers made it slower: " + ", ".join(points)


def _reach_part(curve: _Curve, stop: tuple[int, str] | None) -> list[str]:
    """Capacity-efficiency at the widest point that still pays off."""
    last = curve.workers.size - 1 if stop is None else int(np.flatnonzero(
        curve.workers == stop[0])[0])
    if curve.workers[last] <= 1:
        return []
    efficiency = curve.speedup[last] / curve.ideal[last]
    of_what = "of the naive ideal (no capacity measured)" if curve.naive else "of capacity"
    widest = int(curve.workers[last])
    if not curve.naive and efficiency > UNDERESTIMATED_MARGIN:
        # Never a share above 100 %: the capacity was measured low (noise), not exceeded.
        # The flags part says why ("faster than the capacity-weighted ideal ... noise").
        return [f"at its measured capacity up to {widest} workers"]
    return [f"{min(efficiency, 1.0):.0%} {of_what} up to {widest} workers"]


def _fit_part(fit: Mapping[str, Any] | None, best: float) -> str:
    if fit is None or not math.isfinite(fit["serial_fraction"]):
        return "no fit"
    if fit["law"] != "gustafson" and best > MISFIT * fit["max_speedup"]:
        # A cap below what was measured (a curve that dips, then climbs) is not a cap.
        return (f"Amdahl's law does not fit this curve (it caps at "
                f"{fit['max_speedup']:.3g}×, the run reached {best:.3g}×)")
    fraction, stderr = fit["serial_fraction"], fit["stderr"]
    uncertainty = f" ± {_fraction(stderr, like=fraction)}" if math.isfinite(stderr) else (
        f" ({fit['note']})" if fit.get("note") else " (uncertainty unknown)")
    head = f"the serial fraction of {_fraction(fraction)}{uncertainty}"
    if fit["law"] == "gustafson":
        return f"{head} (Gustafson) keeps {1 - fraction:.0%} of each added capacity"
    cap = fit["max_speedup"]
    return f"{head} caps it at {cap:.3g}×" if cap < NO_CAP else f"{head} sets no cap"


def _stop_part(stop: tuple[int, str] | None, predicted: bool,
               fit: Mapping[str, Any] | None) -> str:
    if stop is None:
        usable = fit is not None and math.isfinite(fit["serial_fraction"])
        return ("no stop in sight (predicted)" if usable
                else "every measured point pays off; too few points to predict further")
    workers, reason = stop
    plural = "worker" if workers == 1 else "workers"
    prefix = "predicted: " if predicted else ""
    return f"adding a worker stops paying off past {workers} {plural} ({prefix}{reason})"


def _below(share: float) -> str:
    """A share shown to 0.1 % and rounded down, so 49.96 % never reads "50.0 %, below 50 %"."""
    return f"{math.floor(share * 1000) / 10:.1f}%"


def _fraction(value: float, like: float | None = None) -> str:
    """Two decimals; four below 0.01, where a fraction still moves the cap by 100× or more.

    A standard error takes the decimals of the fraction it belongs to (*like*).
    """
    reference = value if like is None else like
    return f"{value:.2f}" if abs(reference) >= 0.01 else f"{value:.4f}"


def _flags(rows: pd.DataFrame) -> list[str]:
    """Noisy points, changed worker sets, too-small problems, underestimated capacity."""
    parts = []
    noisy = rows[rows["noisy"].astype(bool)]
    if len(noisy):
        parts.append(f"noisy (CV > 10%) at {_counts(noisy)} workers")
    changed = rows[rows["changed"] > 0]
    if len(changed):
        parts.append(f"worker set changed in {int(changed['changed'].sum())} repeat(s) at "
                     f"{_counts(changed)} workers (not counted)")
    small = rows[rows["too_small"].map(lambda v: isinstance(v, str) and bool(v))]
    if len(small):
        parts.append("problem too small at " + ", ".join(
            f"{int(k)} workers ({message})" for k, message in zip(small["workers"],
                                                                  small["too_small"],
                                                                  strict=True)))
    over = rows[rows["capacity_underestimated"].astype(bool)]
    if len(over):
        parts.append(f"faster than the capacity-weighted ideal at {_counts(over)} workers: "
                     f"capacity underestimated (noise)")
    return parts


def _counts(rows: pd.DataFrame) -> str:
    return ", ".join(str(int(k)) for k in rows["workers"])
