"""Bootstrap confidence intervals of the median time and of the speedup; noise flags."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clusterbench.analysis.stats import SampleStats, median_ci, speedup_ci

TRIALS = 200


def test_median_ci_covers_the_true_median_at_least_90_percent_of_the_time():
    rng = np.random.default_rng(1)
    true_median = math.exp(0.5)  # lognormal(mu=0.5, sigma): median e^mu
    covered = 0
    for trial in range(TRIALS):
        low, high = median_ci(rng.lognormal(0.5, 0.3, 20), seed=trial)
        covered += low <= true_median <= high
    assert covered / TRIALS >= 0.90


def test_speedup_ci_covers_the_true_ratio_at_least_90_percent_of_the_time():
    rng = np.random.default_rng(2)
    covered = 0
    for trial in range(TRIALS):
        one = rng.lognormal(math.log(10.0), 0.1, 20)
        two = rng.lognormal(math.log(5.5), 0.1, 20)
        low, high = speedup_ci(one, two, seed=trial)
        covered += low <= 10.0 / 5.5 <= high
    assert covered / TRIALS >= 0.90


def test_intervals_are_reproducible_and_contain_the_estimate():
    sample = [5.0, 5.5, 6.0, 5.2, 7.1]
    assert median_ci(sample) == median_ci(sample)
    low, high = median_ci(sample)
    assert low <= np.median(sample) <= high and low < high
    low, high = speedup_ci([10.0, 9.5, 10.4], sample)
    assert low <= 10.0 / 5.5 <= high


def test_speedup_ci_is_in_work_per_second():
    strong = speedup_ci([10.0, 10.2, 9.9], [5.0, 5.1, 4.9])
    weak = speedup_ci([10.0, 10.2, 9.9], [10.0, 10.2, 9.8], reference_scale=1.0, scale=2.0)
    assert strong[0] == pytest.approx(weak[0], rel=0.05)
    assert 1.9 < weak[0] < weak[1] < 2.1


def test_no_interval_from_fewer_than_two_values():
    assert all(math.isnan(v) for v in median_ci([3.0]))
    assert all(math.isnan(v) for v in median_ci([]))
    assert all(math.isnan(v) for v in speedup_ci([1.0, 1.1], [0.5]))
    assert all(math.isnan(v) for v in median_ci([2.0, float("nan")]))


def test_coefficient_of_variation_and_noisy_flag():
    quiet = SampleStats.of([10.0, 10.5, 9.5])
    assert quiet.cv == pytest.approx(0.05)
    assert not quiet.noisy
    loud = SampleStats.of([10.0, 13.0, 7.0])
    assert loud.cv == pytest.approx(0.3) and loud.noisy
    assert math.isnan(SampleStats.of([1.0]).cv) and not SampleStats.of([1.0]).noisy
