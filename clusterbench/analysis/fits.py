"""Scaling-law fits of measured speedup curves: Amdahl (strong scaling) and Gustafson (weak).

Curves are fitted in capacity units: x is the point's capacity-weighted ideal speedup
(``ideal_capacity``, the worker set's measured capacity over the 1-worker set's), so a
slow host adds what it really has.  A curve without a measured capacity falls back to
worker counts.  Every fit says how much its serial fraction is worth: ``stderr`` from
:func:`scipy.optimize.curve_fit`, or NaN when two points determine it exactly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import OptimizeWarning, curve_fit

#: Columns identifying one speedup curve (a scheduler's sweep over worker counts).
CURVE = ["workload", "size", "scheduler"]
FIT_COLUMNS = [*CURVE, "law", "unit", "points", "serial_fraction", "stderr", "max_speedup",
               "max_capacity", "note"]
PREDICTION_COLUMNS = [*CURVE, "law", "x", "speedup", "low", "high"]
#: With fewer distinct x values, one point determines the serial fraction exactly.
MIN_WORKER_COUNTS = 3
#: Predictions reach this multiple of the largest measured capacity.
PREDICTION_REACH = 4.0
#: Half-width of the prediction band in standard errors (95 %).
BAND_Z = 1.96
NO_UNCERTAINTY = "2 points: uncertainty unknown"


def amdahl_speedup(workers: ArrayLike, serial_fraction: float) -> np.ndarray:
    """Amdahl's law: speedup on *workers* workers (or capacity units) for a serial fraction.

    Parameters
    ----------
    workers
        Worker counts or capacities ``p`` (scalar or array).
    serial_fraction
        Fraction ``s`` of the single-worker time that does not parallelise.

    Returns
    -------
    numpy.ndarray
        ``1 / (s + (1 - s) / p)``.
    """
    p = np.asarray(workers, dtype=float)
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / p)


def gustafson_speedup(workers: ArrayLike, serial_fraction: float) -> np.ndarray:
    """Gustafson's law: scaled speedup when the problem grows with the capacity ``p``.

    Parameters
    ----------
    workers
        Worker counts or capacities ``p``.
    serial_fraction
        Serial fraction ``s`` of the time on ``p`` workers.

    Returns
    -------
    numpy.ndarray
        ``p - s (p - 1)``.
    """
    p = np.asarray(workers, dtype=float)
    return p - serial_fraction * (p - 1.0)


#: Law name → speedup function; ``scaling`` of a curve picks it.
LAWS: dict[str, Callable[[ArrayLike, float], np.ndarray]] = {
    "amdahl": amdahl_speedup,
    "gustafson": gustafson_speedup,
}


def fit_law(law: str, capacity: ArrayLike, speedup: ArrayLike) -> tuple[float, float]:
    """Fit one law's serial fraction to a measured curve.

    Parameters
    ----------
    law
        ``"amdahl"`` or ``"gustafson"``.
    capacity
        x of each point (capacity-weighted ideal, or worker count).
    speedup
        Measured speedups at those x.

    Returns
    -------
    tuple of float
        ``(serial_fraction, stderr)`` with the fraction in ``[0, 1]``.  With a single
        informative x (> 1) the fraction is solved exactly and ``stderr`` is NaN;
        ``(nan, nan)`` when nothing can be fitted.  Residuals are relative (timing
        noise scales with the time), i.e. ``sigma = speedup`` in ``curve_fit``.
    """
    x, y = np.asarray(capacity, dtype=float), np.asarray(speedup, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
    x, y = x[keep], y[keep]
    informative = np.unique(x[x > 1.0])
    if informative.size == 0:
        return math.nan, math.nan  # at p = 1 every serial fraction predicts 1×
    if informative.size == 1:
        p = float(informative[0])
        return _exact_fraction(law, p, float(np.median(y[x == p]))), math.nan
    # Points at p <= 1 fit every fraction and would only inflate the degrees of freedom.
    x, y = x[x > 1.0], y[x > 1.0]
    with warnings.catch_warnings():
        # An undeterminable covariance comes back as inf, which is the honest stderr.
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            # Timing noise is relative, so residuals are weighed relative to the speedup;
            # unweighted, the stderr undercovered the true fraction (README, "Measured here").
            popt, pcov = curve_fit(LAWS[law], x, y, p0=[0.5], bounds=(0.0, 1.0), sigma=y)
        except (RuntimeError, ValueError):
            return math.nan, math.nan
    return float(popt[0]), float(np.sqrt(pcov[0, 0]))


def fit_amdahl(workers: ArrayLike, speedup: ArrayLike) -> tuple[float, float]:
    """Least-squares fit of Amdahl's law to one measured curve (see :func:`fit_law`).

    Parameters
    ----------
    workers
        Worker counts (or capacities).
    speedup
        Measured speedups at those counts (relative to the 1-worker point).

    Returns
    -------
    tuple of float
        ``(serial_fraction, stderr)``, the fraction bounded to ``[0, 1]``.
    """
    return fit_law("amdahl", workers, speedup)


def _exact_fraction(law: str, p: float, speedup: float) -> float:
    """The serial fraction that puts the law exactly through ``(p, speedup)``."""
    if law == "amdahl":
        fraction = (1.0 / speedup - 1.0 / p) / (1.0 - 1.0 / p)  # Karp–Flatt
    else:
        fraction = (p - speedup) / (p - 1.0)
    return float(np.clip(fraction, 0.0, 1.0))


def scaling_fits(summary: pd.DataFrame) -> pd.DataFrame:
    """Fit every curve of a summary: Amdahl for strong scaling, Gustafson for weak.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FIT_COLUMNS`, one row per (workload, size, scheduler) with a
        finite speedup at some x > 1: ``law``, ``unit`` (``capacity`` or ``workers``),
        ``points`` (distinct x), ``serial_fraction``, its ``stderr`` (NaN with only two
        points, ``note`` says so), ``max_speedup`` (Amdahl's ``1 / s``; unbounded for
        Gustafson) and ``max_capacity`` (largest measured x).
    """
    rows = []
    measured = summary.dropna(subset=["speedup"])
    for key, curve in measured.groupby(CURVE, sort=True):
        unit, x = _x_of(curve)
        points = int(np.unique(x).size)
        if not (x > 1.0).any():
            continue
        law = "gustafson" if _scaling(curve) == "weak" else "amdahl"
        fraction, stderr = fit_law(law, x, curve["speedup"])
        note = NO_UNCERTAINTY if points < MIN_WORKER_COUNTS else ""
        rows.append([*key, law, unit, points, fraction, stderr, _max_speedup(law, fraction),
                     float(np.max(x)), note])
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


#: Former name, kept for importers.
amdahl_fits = scaling_fits


def _x_of(curve: pd.DataFrame) -> tuple[str, np.ndarray]:
    """Capacity units when every point of the curve has one, else worker counts."""
    if "ideal_capacity" in curve:
        ideal = pd.to_numeric(curve["ideal_capacity"], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(ideal).all():
            return "capacity", ideal
    return "workers", curve["workers"].to_numpy(dtype=float)


def _scaling(curve: pd.DataFrame) -> str:
    if "scaling" not in curve:
        return "strong"
    kinds = {kind for kind in curve["scaling"] if isinstance(kind, str)}
    return "weak" if kinds == {"weak"} else "strong"


def _max_speedup(law: str, fraction: float) -> float:
    """Amdahl's asymptote ``1/s``; a zero serial fraction, or Gustafson, is unbounded."""
    if math.isnan(fraction):
        return math.nan
    return 1.0 / fraction if law == "amdahl" and fraction > 0 else math.inf


def predict(law: str, serial_fraction: float, stderr: float, x: ArrayLike
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted speedup at capacities *x*, with a band of ``s ± 1.96 stderr``.

    Parameters
    ----------
    law
        ``"amdahl"`` or ``"gustafson"``.
    serial_fraction, stderr
        A fit's result; a non-finite stderr gives a NaN band.
    x
        Capacities (or worker counts) to predict at.

    Returns
    -------
    tuple of numpy.ndarray
        ``(speedup, low, high)``; the band's fractions are clipped to ``[0, 1]``.
    """
    function = LAWS[law]
    grid = np.asarray(x, dtype=float)
    speedup = function(grid, serial_fraction)
    if not math.isfinite(stderr):
        nan = np.full_like(grid, np.nan)
        return speedup, nan, nan
    worst = min(1.0, serial_fraction + BAND_Z * stderr)
    best = max(0.0, serial_fraction - BAND_Z * stderr)
    # Both laws fall as the serial fraction grows.
    return speedup, function(grid, worst), function(grid, best)


def predictions(fits: pd.DataFrame, points: int = 50) -> pd.DataFrame:
    """Predicted speedup of each fitted curve up to 4× its largest measured capacity.

    Parameters
    ----------
    fits
        Output of :func:`scaling_fits`.
    points
        Grid points per curve, from 1 to ``PREDICTION_REACH × max_capacity``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PREDICTION_COLUMNS`, long format (one row per curve and x).
    """
    frames = []
    for fit in fits.to_dict("records"):
        if not math.isfinite(fit["serial_fraction"]):
            continue
        grid = np.linspace(1.0, PREDICTION_REACH * fit["max_capacity"], points)
        speedup, low, high = predict(fit["law"], fit["serial_fraction"], fit["stderr"], grid)
        frames.append(pd.DataFrame({**{c: fit[c] for c in CURVE}, "law": fit["law"], "x": grid,
                                    "speedup": speedup, "low": low, "high": high}))
    if not frames:
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PREDICTION_COLUMNS]


def karp_flatt(speedup: ArrayLike, capacity: ArrayLike) -> np.ndarray:
    """Karp–Flatt experimentally determined serial fraction of each point.

    Parameters
    ----------
    speedup
        Measured speedups ``S``.
    capacity
        The points' ideal speedups ``p`` (capacity-weighted, or worker counts).

    Returns
    -------
    numpy.ndarray
        ``e = (1/S - 1/p) / (1 - 1/p)``; NaN where ``p <= 1`` (no parallelism to judge)
        or either value is missing.
    """
    s = np.asarray(speedup, dtype=float)
    p = np.asarray(capacity, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (1.0 / s - 1.0 / p) / (1.0 - 1.0 / p)
    return np.where(p > 1.0, e, np.nan)
