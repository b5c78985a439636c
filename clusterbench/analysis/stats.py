"""Statistics of the timings of one sweep point: descriptive statistics, the coefficient of
variation and 95 % bootstrap confidence intervals of the median time and of a speedup.

The bootstrap is scipy's (:func:`scipy.stats.bootstrap`, percentile method) with a fixed
seed, so a report redrawn from the same records prints the same intervals.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

#: Confidence level of every interval clusterbench prints.
CONFIDENCE = 0.95
#: Bootstrap resamples: enough for stable 2.5/97.5 % percentiles of a handful of repeats.
N_RESAMPLES = 2000
#: Fixed seed: the same records must always give the same intervals.
SEED = 20261122
#: Coefficient of variation above which a point counts as noisy.
NOISY_CV = 0.10

Interval = tuple[float, float]
_NO_INTERVAL: Interval = (math.nan, math.nan)


@dataclass(frozen=True)
class SampleStats:
    """Summary of a sample of wall times in seconds.

    An empty sample has ``n == 0`` and NaN everywhere else, so a point whose
    repeats all failed still yields a row (with visibly missing timings).
    """

    n: int
    median: float
    min: float
    max: float
    mean: float
    stdev: float
    iqr: float

    @classmethod
    def of(cls, seconds: Iterable[float]) -> SampleStats:
        """Compute the statistics of *seconds*.

        Parameters
        ----------
        seconds
            Wall times of the verified repeats of one point (any iterable of numbers).

        Returns
        -------
        SampleStats
            ``stdev`` is the sample standard deviation (``ddof=1``), NaN for ``n < 2``;
            ``iqr`` is ``q75 - q25`` with numpy's default linear interpolation.
        """
        values = np.asarray(list(seconds), dtype=float)
        if values.size == 0:
            return cls(0, *([math.nan] * 6))
        return cls(
            n=int(values.size),
            median=float(np.median(values)),
            min=float(values.min()),
            max=float(values.max()),
            mean=float(values.mean()),
            stdev=float(np.std(values, ddof=1)) if values.size > 1 else math.nan,
            iqr=float(stats.iqr(values)),
        )

    @property
    def cv(self) -> float:
        """Coefficient of variation ``stdev / mean`` (NaN for ``n < 2``)."""
        return self.stdev / self.mean if self.mean else math.nan

    @property
    def noisy(self) -> bool:
        """Whether the coefficient of variation exceeds :data:`NOISY_CV`."""
        return bool(self.cv > NOISY_CV)

    def as_dict(self) -> dict[str, float]:
        """The fields as a plain dict (one DataFrame row's worth).

        Returns
        -------
        dict
            ``{"n": ..., "median": ..., ...}`` in field order.
        """
        return dataclasses.asdict(self)


def median_ci(seconds: Iterable[float], confidence: float = CONFIDENCE,
              n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Interval:
    """Percentile-bootstrap confidence interval of the median of *seconds*.

    Parameters
    ----------
    seconds
        One point's verified wall times.
    confidence
        Confidence level (0.95 = 95 %).
    n_resamples
        Bootstrap resamples.
    seed
        Seed of the resampling generator (fixed: the interval is reproducible).

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(nan, nan)`` for fewer than 2 values.
    """
    values = _finite(seconds)
    if values.size < 2:
        return _NO_INTERVAL
    result = stats.bootstrap((values,), np.median, confidence_level=confidence,
                             n_resamples=n_resamples, method="percentile", vectorized=True,
                             rng=np.random.default_rng(seed))
    return _interval(result)


def speedup_ci(reference: Iterable[float], sample: Iterable[float], reference_scale: float = 1.0,
               scale: float = 1.0, confidence: float = CONFIDENCE,
               n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Interval:
    """Bootstrap confidence interval of the speedup ``median(reference) / median(sample)``.

    Both samples are resampled independently (they come from different points), and the
    speedup is taken in work per second, so weak-scaling points compare fairly.

    Parameters
    ----------
    reference, sample
        Wall times of the reference (1-worker) point and of the point.
    reference_scale, scale
        Work multipliers of the two points (1.0 for strong scaling).
    confidence, n_resamples, seed
        As in :func:`median_ci`.

    Returns
    -------
    tuple of float
        ``(low, high)`` of ``(median(reference) / reference_scale) / (median(sample) / scale)``;
        ``(nan, nan)`` when either sample has fewer than 2 values.
    """
    ref, values = _finite(reference), _finite(sample)
    if ref.size < 2 or values.size < 2:
        return _NO_INTERVAL
    factor = scale / reference_scale

    def ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return factor * np.median(a, axis=axis) / np.median(b, axis=axis)

    result = stats.bootstrap((ref, values), ratio, confidence_level=confidence,
                             n_resamples=n_resamples, method="percentile", paired=False,
                             vectorized=True, rng=np.random.default_rng(seed))
    return _interval(result)


def _finite(values: Iterable[float]) -> np.ndarray:
    array = np.asarray(list(values), dtype=float)
    return array[np.isfinite(array)]


def _interval(result: Any) -> Interval:
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)
