"""Unit tests of clusterbench.analysis: statistics, speedup summary, Amdahl fits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from clusterbench.analysis.fits import amdahl_fits, amdahl_speedup, fit_amdahl
from clusterbench.analysis.speedup import CSV_COLUMNS, SUMMARY_COLUMNS, summarize
from clusterbench.analysis.stats import SampleStats
from clusterbench.results.record import Record


def rec(scheduler: str, workers: int, seconds: float, **kwargs) -> Record:
    fields = {"run_id": "r", "workload": "mc", "size": "tiny", "repeat": 0, "verified": True}
    fields.update(kwargs)
    return Record(scheduler=scheduler, workers=workers, seconds=seconds, **fields)


def point(
    summary: pd.DataFrame, scheduler: str, workers: int, workload: str = "mc", size: str = "tiny"
) -> pd.Series:
    rows = summary[
        (summary["workload"] == workload)
        & (summary["size"] == size)
        & (summary["scheduler"] == scheduler)
        & (summary["workers"] == workers)
    ]
    assert len(rows) == 1
    return rows.iloc[0]


# --- stats ------------------------------------------------------------------------------------


def test_sample_stats_matches_numpy():
    sample = [3.0, 1.0, 4.0, 1.0, 5.0]
    stats = SampleStats.of(sample)
    assert stats.n == 5
    assert stats.median == 3.0
    assert (stats.min, stats.max) == (1.0, 5.0)
    assert stats.mean == pytest.approx(2.8)
    assert stats.stdev == pytest.approx(np.std(sample, ddof=1))
    q25, q75 = np.percentile(sample, [25, 75])
    assert stats.iqr == pytest.approx(q75 - q25)


def test_sample_stats_single_and_empty():
    one = SampleStats.of([2.5])
    assert (one.n, one.median, one.iqr) == (1, 2.5, 0.0)
    assert math.isnan(one.stdev)
    empty = SampleStats.of([])
    assert empty.n == 0
    assert all(math.isnan(v) for k, v in empty.as_dict().items() if k != "n")


# --- summarize --------------------------------------------------------------------------------


def test_speedup_and_efficiency_arithmetic():
    records = [
        rec("threads", 1, 10.0),
        rec("threads", 1, 9.0, repeat=1),
        rec("threads", 1, 11.0, repeat=2),
        rec("threads", 2, 5.5),
        rec("threads", 2, 5.0, repeat=1),
        rec("threads", 2, 6.0, repeat=2),
    ]
    summary = summarize(records)
    two = point(summary, "threads", 2)
    assert two["median"] == 5.5
    assert two["speedup"] == pytest.approx(10.0 / 5.5, rel=1e-12)  # 1.818...
    assert two["efficiency"] == pytest.approx(10.0 / 5.5 / 2, rel=1e-12)  # 0.909...
    assert two["iqr"] == pytest.approx(0.5)
    assert point(summary, "threads", 1)["speedup"] == 1.0


def test_failed_repeats_are_counted_and_excluded():
    records = [
        rec("threads", 1, 10.0),
        rec("threads", 4, 2.5),
        rec("threads", 4, 100.0, repeat=1, verified=False, error="ValueError: mismatch"),
        rec("threads", 4, 0.1, repeat=2, verified=False, detail="max abs diff 0.3"),
        rec("threads", 4, 50.0, repeat=3, verified=True, error="late exception"),
    ]
    four = point(summarize(records), "threads", 4)
    assert four["n"] == 1
    assert (four["median"], four["min"], four["max"]) == (2.5, 2.5, 2.5)
    assert four["failed"] == 3
    assert four["speedup"] == pytest.approx(4.0)
    assert four["errors"] == (
        "ValueError: mismatch",
        "not verified: max abs diff 0.3",
        "late exception",
    )


def test_all_failed_point_keeps_a_row_with_nan_timings():
    records = [rec("threads", 1, 10.0), rec("threads", 8, 1.0, verified=False, error="boom")]
    eight = point(summarize(records), "threads", 8)
    assert eight["n"] == 0 and eight["failed"] == 1
    assert math.isnan(eight["median"]) and math.isnan(eight["speedup"])
    assert math.isnan(eight["efficiency"])


def test_speedup_is_nan_without_one_worker_point():
    summary = summarize([rec("processes", 2, 5.0), rec("processes", 4, 3.0)])
    assert summary["speedup"].isna().all()
    assert summary["efficiency"].isna().all()


def test_speedup_vs_serial_uses_synchronous_point_of_same_workload_and_size():
    records = [
        rec("synchronous", 1, 12.0),
        rec("threads", 1, 10.0),
        rec("threads", 4, 3.0),
        rec("threads", 4, 3.0, size="small"),  # no serial reference at this size
        rec("threads", 1, 6.0, workload="other"),
    ]
    summary = summarize(records)
    assert point(summary, "threads", 4)["speedup_vs_serial"] == pytest.approx(4.0)
    assert point(summary, "threads", 1)["speedup_vs_serial"] == pytest.approx(1.2)
    assert point(summary, "synchronous", 1)["speedup_vs_serial"] == 1.0
    assert math.isnan(point(summary, "threads", 4, size="small")["speedup_vs_serial"])
    assert math.isnan(point(summary, "threads", 1, workload="other")["speedup_vs_serial"])


def test_summary_is_sorted_with_slots_and_all_columns():
    records = [
        rec("threads", 4, 3.0, threads_per_worker=2),
        rec("distributed", 2, 5.0),
        rec("threads", 1, 10.0, threads_per_worker=2),
        rec("distributed", 1, 9.0, workload="gs"),
    ]
    summary = summarize(records)
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert set(CSV_COLUMNS) <= set(SUMMARY_COLUMNS)
    keys = list(summary[["workload", "scheduler", "workers"]].itertuples(index=False, name=None))
    assert keys == [
        ("gs", "distributed", 1),
        ("mc", "distributed", 2),
        ("mc", "threads", 1),
        ("mc", "threads", 4),
    ]
    assert point(summary, "threads", 4)["slots"] == 8


def test_summarize_no_records():
    summary = summarize([])
    assert summary.empty
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert amdahl_fits(summary).empty


# --- Amdahl -----------------------------------------------------------------------------------


def test_fit_recovers_exact_serial_fraction():
    workers = np.array([1, 2, 4, 8, 16])
    fraction, stderr = fit_amdahl(workers, amdahl_speedup(workers, 0.1))
    assert fraction == pytest.approx(0.1, abs=1e-6)
    assert stderr < 1e-6


def test_amdahl_fits_from_records_of_exact_amdahl_times():
    serial = 0.1
    records = [rec("threads", k, 10.0 * (serial + (1 - serial) / k)) for k in (1, 2, 4, 8)]
    records += [rec("processes", k, 10.0 / k) for k in (1, 2)]  # two counts: exact, no stderr
    fits = amdahl_fits(summarize(records)).set_index("scheduler")
    assert list(fits.index) == ["processes", "threads"]
    row = fits.loc["threads"]
    assert row["serial_fraction"] == pytest.approx(serial, abs=1e-6)
    assert row["max_speedup"] == pytest.approx(1 / serial, rel=1e-5)
    assert (row["law"], row["unit"], row["points"], row["note"]) == ("amdahl", "workers", 4, "")
    two = fits.loc["processes"]
    assert two["serial_fraction"] == 0.0 and math.isnan(two["stderr"])
    assert two["note"] == "2 points: uncertainty unknown"


def test_perfect_scaling_fits_zero_serial_fraction():
    records = [rec("threads", k, 8.0 / k) for k in (1, 2, 4)]
    row = amdahl_fits(summarize(records)).iloc[0]
    # The optimum sits on the bound, where the optimiser stops a hair inside it.
    assert row["serial_fraction"] == pytest.approx(0.0, abs=1e-4)
    assert row["max_speedup"] > 1e4


# --- issue 11: counted repeats, intervals, flags --------------------------------------------


def test_repeats_on_a_changed_worker_set_are_counted_apart_and_excluded():
    records = [
        rec("distributed", 1, 10.0),
        rec("distributed", 2, 5.0, repeat=0),
        rec("distributed", 2, 5.2, repeat=1),
        rec("distributed", 2, 9.9, repeat=2, worker_set_changed=True,
            worker_set_note="worker b lost: ran on a only"),
        rec("distributed", 2, 5.1, repeat=3, attempt=1),
    ]
    two = point(summarize(records), "distributed", 2)
    assert (two["n"], two["changed"], two["failed"]) == (3, 1, 0)
    assert two["median"] == 5.1 and two["max"] == 5.2
    assert two["changes"] == ("worker b lost: ran on a only",)


def test_intervals_noise_and_too_small_columns():
    records = [rec("threads", 1, s, repeat=i) for i, s in enumerate((10.0, 10.2, 9.8, 10.1))]
    records += [rec("threads", 2, s, repeat=i, metrics={"problem_too_small": "6 tasks for 2"})
                for i, s in enumerate((5.0, 6.5, 4.4, 5.2))]
    summary = summarize(records)
    one, two = point(summary, "threads", 1), point(summary, "threads", 2)
    assert one["ci_low"] <= one["median"] <= one["ci_high"]
    assert (one["speedup_ci_low"], one["speedup_ci_high"]) == (1.0, 1.0)  # the reference
    assert two["speedup_ci_low"] < two["speedup"] < two["speedup_ci_high"]
    assert not one["noisy"] and two["noisy"] and two["cv"] > 0.10
    assert two["too_small"] == "6 tasks for 2" and one["too_small"] == ""
    assert math.isnan(point(summarize(records[:1] + records[4:5]), "threads", 2)["ci_low"])
    assert {"ideal_capacity", "efficiency_capacity", "karp_flatt", "noisy"} <= set(CSV_COLUMNS)
