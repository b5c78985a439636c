"""Amdahl and Gustafson fits in capacity units, Karp–Flatt and the prediction band."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from clusterbench.analysis.fits import (
    NO_UNCERTAINTY,
    amdahl_speedup,
    fit_law,
    gustafson_speedup,
    karp_flatt,
    predict,
    predictions,
    scaling_fits,
)
from clusterbench.analysis.speedup import summarize
from clusterbench.results.record import Record

#: Heterogeneous capacities, as a lab of mismatched hosts gives them.
CAPACITY = np.array([1.0, 1.25, 2.1, 3.4, 5.0, 8.0, 11.5])


def noisy(values: np.ndarray, seed: int, sigma: float = 0.03) -> np.ndarray:
    return values * np.random.default_rng(seed).lognormal(0.0, sigma, values.size)


def test_stderr_of_a_noisy_fit_is_honest():
    """|ŝ - s| < 1.96 stderr in most of 100 noisy curves (relative residuals)."""
    truth = amdahl_speedup(CAPACITY, 0.07)
    hits = 0
    for seed in range(100):
        fraction, stderr = fit_law("amdahl", CAPACITY, noisy(truth, seed))
        hits += abs(fraction - 0.07) < 1.96 * stderr
    assert hits >= 85


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("law", "law_speedup", "true", "tolerance", "max_stderr"), [
    ("amdahl", amdahl_speedup, 0.07, 0.015, 0.02),
    ("gustafson", gustafson_speedup, 0.15, 0.05, 0.03),
])
def test_fit_recovers_a_known_serial_fraction_from_noisy_data(seed, law, law_speedup, true,
                                                               tolerance, max_stderr):
    measured = noisy(law_speedup(CAPACITY, true), seed)
    fraction, stderr = fit_law(law, CAPACITY, measured)
    assert fraction == pytest.approx(true, abs=tolerance)
    assert 0 < stderr < max_stderr
    assert abs(fraction - true) < 4 * stderr


def test_the_two_laws_differ_and_each_fits_its_own_data():
    amdahl = amdahl_speedup(CAPACITY, 0.2)
    assert fit_law("amdahl", CAPACITY, amdahl)[0] == pytest.approx(0.2, abs=1e-6)
    assert fit_law("gustafson", CAPACITY, amdahl)[0] > 0.5  # the wrong law misreads it


def test_two_points_determine_the_fraction_exactly_without_uncertainty():
    fraction, stderr = fit_law("amdahl", [1, 2], [1.0, 1.6])
    assert fraction == pytest.approx(0.25)  # Karp–Flatt of 1.6x on 2
    assert math.isnan(stderr)
    fraction, stderr = fit_law("gustafson", [1.0, 1.8], [1.0, 1.6])
    assert fraction == pytest.approx(0.25) and math.isnan(stderr)  # (1.8 - 1.6) / 0.8
    assert fit_law("amdahl", [1, 2], [1.0, 2.3])[0] == 0.0  # superlinear: clipped to [0, 1]
    assert all(math.isnan(v) for v in fit_law("amdahl", [1, 1], [1.0, 1.1]))


def test_karp_flatt():
    e = karp_flatt([1.6, 3.2, 4.0, 1.0, 2.0], [2.0, 4.0, 4.0, 1.0, float("nan")])
    assert e[:3] == pytest.approx([0.25, 0.0625 / 0.75, 0.0])
    assert np.isnan(e[3:]).all()  # p <= 1 and unknown p
    # Exact Amdahl data: e is the serial fraction at every p.
    p = np.array([2.0, 3.5, 8.0])
    assert karp_flatt(amdahl_speedup(p, 0.1), p) == pytest.approx([0.1] * 3)


def test_prediction_band_widens_with_the_stderr_and_is_clipped():
    speedup, low, high = predict("amdahl", 0.1, 0.02, [1.0, 10.0, 40.0])
    assert speedup == pytest.approx(amdahl_speedup([1.0, 10.0, 40.0], 0.1))
    assert (low <= speedup).all() and (speedup <= high).all()
    assert high[2] == pytest.approx(float(amdahl_speedup(40.0, 0.1 - 1.96 * 0.02)))
    _, low, high = predict("amdahl", 0.01, 1.0, [40.0])
    assert high[0] == pytest.approx(40.0) and low[0] == pytest.approx(1.0)  # s in [0, 1]
    _, low, high = predict("gustafson", 0.1, math.nan, [4.0])
    assert np.isnan(low).all() and np.isnan(high).all()


def rec(scheduler: str, workers: int, seconds: float, **fields) -> Record:
    base = {"run_id": "r", "workload": "mc", "size": "small", "repeat": 0, "verified": True}
    return Record(scheduler=scheduler, workers=workers, seconds=seconds, **(base | fields))


def test_summary_fits_use_capacity_units_and_the_curve_scaling():
    capacity = {str(k): c for k, c in zip([1, 2, 3, 4], [1.0, 1.8, 2.5, 3.1], strict=True)}
    environment = {"calibration": {"capacity": capacity}}
    strong = [rec("processes", k, 10.0 / float(amdahl_speedup(c, 0.05)))
              for k, c in zip([1, 2, 3, 4], [1.0, 1.8, 2.5, 3.1], strict=True)]
    weak = [rec("threads", k, 10.0 * c / float(gustafson_speedup(c, 0.2)), scaling="weak",
                scale=c) for k, c in zip([1, 2, 4], [1.0, 1.8, 3.1], strict=True)]
    fits = scaling_fits(summarize(strong + weak, environment)).set_index("scheduler")
    assert fits.loc["processes", "law"] == "amdahl" and fits.loc["processes", "unit"] == "capacity"
    assert fits.loc["processes", "serial_fraction"] == pytest.approx(0.05, abs=1e-6)
    assert fits.loc["processes", "max_speedup"] == pytest.approx(20.0, rel=1e-4)
    assert fits.loc["processes", "max_capacity"] == pytest.approx(3.1)
    assert fits.loc["threads", "law"] == "gustafson"
    assert fits.loc["threads", "serial_fraction"] == pytest.approx(0.2, abs=1e-6)
    assert fits.loc["threads", "max_speedup"] == math.inf
    # Without a capacity the same records fit in worker counts.
    assert scaling_fits(summarize(strong)).set_index("scheduler").loc["processes",
                                                                        "unit"] == "workers"


def test_default_two_worker_run_gets_a_fit_and_a_prediction():
    environment = {"calibration": {"capacity": {"1": 1.0, "2": 1.8}}}
    records = [rec("processes", 1, 10.0), rec("processes", 2, 6.0), rec("synchronous", 1, 10.0)]
    fits = scaling_fits(summarize(records, environment))
    assert list(fits["scheduler"]) == ["processes"]  # the serial point has nothing to fit
    row = fits.iloc[0]
    assert row["note"] == NO_UNCERTAINTY and math.isnan(row["stderr"])
    assert row["serial_fraction"] == pytest.approx((1 / (10 / 6) - 1 / 1.8) / (1 - 1 / 1.8))
    grid = predictions(fits, points=9)
    assert len(grid) == 9 and grid["x"].iloc[-1] == pytest.approx(4 * 1.8)
    assert grid["low"].isna().all()  # no uncertainty: no band
    assert predictions(pd.DataFrame(columns=fits.columns)).empty
