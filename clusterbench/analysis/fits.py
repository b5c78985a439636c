"""Scaling-law fits of measured speedup curves (Amdahl's law)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import OptimizeWarning, curve_fit

#: Columns identifying one speedup curve (a scheduler's sweep over worker counts).
CURVE = ["workload", "size", "scheduler"]
FIT_COLUMNS = [*CURVE, "serial_fraction", "stderr", "max_speedup"]
#: Fewer distinct worker counts cannot tell a serial fraction from noise.
MIN_WORKER_COUNTS = 3


def amdahl_speedup(workers: ArrayLike, serial_fraction: float) -> np.ndarray:
    """Amdahl's law: speedup on *workers* workers for a given serial fraction.

    Parameters
    ----------
    workers
        Worker counts ``k`` (scalar or array).
    serial_fraction
        Fraction ``s`` of the single-worker time that does not parallelise.

    Returns
    -------
    numpy.ndarray
        ``1 / (s + (1 - s) / k)``.
    """
    k = np.asarray(workers, dtype=float)
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / k)


def fit_amdahl(workers: ArrayLike, speedup: ArrayLike) -> tuple[float, float]:
    """Least-squares fit of Amdahl's law to one measured curve.

    Parameters
    ----------
    workers
        Worker counts.
    speedup
        Measured speedups at those counts (relative to the 1-worker point).

    Returns
    -------
    tuple of float
        ``(serial_fraction, stderr)``, with ``serial_fraction`` bounded to ``[0, 1]``;
        ``(nan, nan)`` when the optimiser does not converge.
    """
    x = np.asarray(workers, dtype=float)
    y = np.asarray(speedup, dtype=float)
    with warnings.catch_warnings():
        # An undeterminable covariance comes back as inf, which is the honest stderr.
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            popt, pcov = curve_fit(amdahl_speedup, x, y, p0=[0.5], bounds=(0.0, 1.0))
        except (RuntimeError, ValueError):
            return math.nan, math.nan
    return float(popt[0]), float(np.sqrt(pcov[0, 0]))


def amdahl_fits(summary: pd.DataFrame) -> pd.DataFrame:
    """Fit Amdahl's law to every curve of a summary with enough worker counts.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.

    Returns
    -------
    pandas.DataFrame
        One row per (workload, size, scheduler) with at least
        :data:`MIN_WORKER_COUNTS` worker counts of finite speedup: ``serial_fraction``,
        its ``stderr`` and ``max_speedup = 1 / serial_fraction`` (inf when it is 0).
    """
    rows = []
    measured = summary.dropna(subset=["speedup"])
    for key, curve in measured.groupby(CURVE, sort=True):
        if curve["workers"].nunique() < MIN_WORKER_COUNTS:
            continue
        fraction, stderr = fit_amdahl(curve["workers"], curve["speedup"])
        rows.append([*key, fraction, stderr, _max_speedup(fraction)])
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def _max_speedup(fraction: float) -> float:
    """Amdahl's asymptote ``1/s``; a zero serial fraction means unbounded."""
    if math.isnan(fraction):
        return math.nan
    return 1.0 / fraction if fraction > 0 else math.inf
