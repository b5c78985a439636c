"""The comparison rule and the environment differences of ``clusterbench compare`` (pure code)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from clusterbench.analysis.compare import (
    Change,
    code_notes,
    compare_records,
    environment_differences,
)
from clusterbench.analysis.stats import SampleStats
from clusterbench.results.record import Record


def _records(run: str, seconds: list[float], scheduler: str = "processes", workers: int = 2,
             verified: bool = True) -> list[Record]:
    return [Record(run, "montecarlo", "small", scheduler, workers, i, s, verified)
            for i, s in enumerate(seconds)]


@pytest.mark.parametrize(("a", "b", "verdict"), [
    ([1.0, 1.1, 1.05], [1.5, 1.6, 1.55], "slower"),      # every B repeat slower than every A
    ([1.5, 1.6, 1.55], [1.0, 1.1, 1.05], "faster"),
    ([1.0, 1.1, 1.05], [1.02, 1.08, 1.06], "same"),      # within 5 %
    ([1.0, 2.0, 1.1], [1.3, 1.9, 1.35], "unclear"),      # 23 % slower, repeats overlap
    ([1.0, 1.1], [], "no verified repeat"),
    ([1.0, 1.1], [1.5, 1.6], "too few repeats"),        # 2 vs 2 separate by chance 1 in 6
    ([1.0, 1.1], [1.04, 1.06], "same"),
])
def test_verdicts(a, b, verdict) -> None:
    assert Change(SampleStats.of(a), SampleStats.of(b)).verdict(0.05) == verdict


def test_threshold_decides_what_counts_as_a_change() -> None:
    change = Change(SampleStats.of([1.0, 1.0, 1.0]), SampleStats.of([1.08, 1.08, 1.08]))
    assert change.verdict(0.05) == "slower"
    assert change.verdict(0.10) == "same"


def test_rows_per_point_with_points_of_one_run_only_and_failed_repeats() -> None:
    before = _records("a", [2.0, 2.1, 2.2]) + _records("a", [4.0], scheduler="synchronous",
                                                       workers=1)
    after = (_records("b", [3.0, 3.1, 3.2]) + _records("b", [9.0], verified=False)
             + _records("b", [1.0], scheduler="threads"))
    table = compare_records(before, after, 0.05).set_index(["scheduler", "workers"])
    processes = table.loc[("processes", 2)]
    assert (processes["n_a"], processes["n_b"]) == (3, 3)  # the failed repeat is not timed
    assert processes["ratio"] == pytest.approx(3.1 / 2.1)
    assert processes["verdict"] == "slower"
    assert table.loc[("synchronous", 1), "verdict"] == "only in A"
    assert table.loc[("threads", 2), "verdict"] == "only in B"
    assert math.isnan(table.loc[("threads", 2), "ratio"])


def test_repeats_that_a_summary_would_not_count_are_not_compared() -> None:
    before = _records("a", [2.0, 2.1, 2.2])
    after = _records("b", [2.0, 2.1, 2.2]) + [
        dataclasses.replace(r, repeat=9, worker_set_changed=True)
        for r in _records("b", [9.0])] + [
        dataclasses.replace(r, repeat=8, error="late exception") for r in _records("b", [8.0])]
    (row,) = compare_records(before, after, 0.05).to_dict("records")
    assert (row["n_b"], row["median_b"], row["verdict"]) == (3, 2.1, "same")


def test_points_that_measured_different_work_are_not_compared() -> None:
    before = _records("a", [1.0, 1.1, 1.2])
    after = [dataclasses.replace(r, params={"n_paths": 8000}) for r in _records("b", [2.0, 2.1])]
    (row,) = compare_records(before, after, 0.05).to_dict("records")
    assert row["verdict"] == "params differ"


ENV = {"hostname": "vm", "cores": 2, "cpu_model": "AMD EPYC", "python": "3.11.7",
       "packages": {"dask": "2026.8.0", "numpy": "2.4.6"},
       "blas": [{"internal_api": "openblas", "version": "0.3.31"}],
       "git_commit": "3a269e4bae0b5a97", "git_dirty": False,
       "calibration": {"kernel_seconds": 0.234, "capacity": {"1": 1.0, "2": 1.74}}}


def test_identical_environments_have_no_differences() -> None:
    assert environment_differences(ENV, dict(ENV)) == []


def test_a_run_without_environment_is_one_note_not_every_field_vs_none() -> None:
    assert environment_differences(ENV, {}) == [
        "environment: the second run has no environment.json, so its machine, packages and "
        "calibration cannot be compared"]
    assert len(environment_differences({}, {})) == 1


def test_every_kind_of_difference_is_one_line() -> None:
    other = ENV | {"cores": 8, "packages": {"dask": "2026.9.0", "numpy": "2.4.6"},
                   "blas": [{"internal_api": "mkl", "version": "2025"}],
                   "git_commit": "056ef9a1234567", "git_dirty": True,
                   "calibration": {"kernel_seconds": 0.300, "capacity": {"1": 1.0, "2": 1.95}}}
    assert environment_differences(ENV, other) == [
        "cores: 2 vs 8",
        "package dask: 2026.8.0 vs 2026.9.0",
        "BLAS: ['openblas 0.3.31'] vs ['mkl 2025']",
        "code: commit 3a269e4bae vs 056ef9a123",
        "code: uncommitted changes no vs yes",
        "machine speed: reference kernel 0.234 s vs 0.300 s (1.28×)",
        "capacity of 2 processes: 1.74× vs 1.95×",
    ]


def test_small_calibration_noise_is_not_a_difference() -> None:
    # 1.82x vs 1.96x: two back-to-back runs on the dev VM.
    other = ENV | {"calibration": {"kernel_seconds": 0.250, "capacity": {"1": 1.0, "2": 1.87}}}
    assert environment_differences(ENV, other) == []


def test_uncommitted_code_is_a_note_for_each_run_not_a_difference() -> None:
    dirty = ENV | {"git_dirty": True}
    assert environment_differences(dirty, dirty) == []
    assert code_notes(dirty, dirty) == [
        "run A measured uncommitted changes on top of 3a269e4bae",
        "run B measured uncommitted changes on top of 3a269e4bae",
    ]
    assert code_notes(ENV, ENV) == []
