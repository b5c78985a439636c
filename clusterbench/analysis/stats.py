"""Descriptive statistics of one sample of timings (the repeats of one sweep point)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats


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

    def as_dict(self) -> dict[str, float]:
        """The fields as a plain dict (one DataFrame row's worth).

        Returns
        -------
        dict
            ``{"n": ..., "median": ..., ...}`` in field order.
        """
        return dataclasses.asdict(self)
