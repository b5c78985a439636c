"""The conversions of ``clusterbench export`` on hand-made records (no run needed)."""

from __future__ import annotations

import json
import random
from importlib import metadata

import pandas as pd
import pytest
from packaging.version import Version
from pytest_benchmark.stats import Stats

from clusterbench.errors import UsageError
from clusterbench.results.export import (
    arrow_safe,
    check_format,
    own_stats,
    pytest_benchmark_json,
    stats,
    tidy_frame,
)
from clusterbench.results.record import Record


def record(scheduler: str = "threads", workers: int = 2, repeat: int = 0, seconds: float = 1.0,
           **fields) -> Record:
    base = {"run_id": "20260101T000000-x-0001", "workload": "montecarlo", "size": "small",
            "scheduler": scheduler, "workers": workers, "repeat": repeat, "round": repeat,
            "seconds": seconds, "verified": True, "timestamp": f"2026-01-01T00:00:0{repeat}"}
    return Record(**(base | fields))


@pytest.mark.parametrize("rounds", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13])
def test_stats_are_pytest_benchmarks_own(rounds: int) -> None:
    rng = random.Random(rounds)
    data = [rng.lognormvariate(0, 0.3) for _ in range(rounds)] + [5.0] * (rounds > 6)
    reference = Stats()
    for value in data:
        reference.update(value)
    assert stats(data) == reference.as_dict()
    own, expected = own_stats(data), reference.as_dict()
    if Version(metadata.version("pytest-benchmark")) >= Version("5.3"):
        outliers = {"iqr_outliers", "stddev_outliers", "outliers", "ld15iqr", "hd15iqr"}
        own, expected = ({k: v for k, v in d.items() if k not in outliers}
                         for d in (own, expected))
    assert own == expected


def test_a_point_per_benchmark_with_its_successful_repeats_only() -> None:
    records = [record(repeat=0, seconds=2.0), record(repeat=1, seconds=3.0),
               record(repeat=2, seconds=9.0, verified=False, error="boom"),
               record(scheduler="synchronous", workers=1, repeat=0, seconds=4.0,
                      verified=False, error="wrong answer"),
               record(scheduler="distributed", workers=2, repeat=0, seconds=1.5,
                      worker_set_changed=True, verified=False)]
    environment = {"hostname": "box", "cpu_model": "EPYC", "cores": 2, "python": "3.11.7",
                   "os": "Linux-6.1-x86_64", "git_commit": "abc123", "git_dirty": True}
    document, notes = pytest_benchmark_json(records, environment)
    (bench,) = document["benchmarks"]
    assert bench["name"] == "montecarlo[small-threads-2]"
    assert bench["group"] == "montecarlo/small"
    assert bench["params"] == {"workload": "montecarlo", "size": "small",
                               "scheduler": "threads", "workers": 2}
    assert bench["stats"]["data"] == [2.0, 3.0] and bench["stats"]["rounds"] == 2
    assert bench["stats"]["iterations"] == 1 and bench["stats"]["median"] == 2.5
    assert notes == ["montecarlo[small-distributed-2]: left out, none of its 1 repeat(s) "
                     "succeeded",
                     "montecarlo[small-synchronous-1]: left out, none of its 1 repeat(s) "
                     "succeeded",
                     "montecarlo[small-threads-2]: 1 failed repeat(s) left out, 2 kept"]
    assert document["machine_info"]["node"] == "box"
    assert document["machine_info"]["cpu"]["count"] == 2
    assert document["commit_info"] == {"id": "abc123", "dirty": True, "project": "clusterbench"}
    assert document["datetime"] == "2026-01-01T00:00:02"
    json.dumps(document)  # serialisable as is


def test_tidy_frame_flattens_every_field() -> None:
    records = [record(repeat=0, metrics={"tasks": 4, "deadline": {"s": 10.0}},
                      worker_names=("a-0", "a-1"), params={"n_paths": 100}),
               record(repeat=1, metrics={"tasks": 4, "note": "late"})]
    frame = tidy_frame(records)
    assert len(frame) == 2
    assert list(frame.columns[:7]) == ["run_id", "workload", "size", "scheduler", "workers",
                                       "repeat", "seconds"]
    assert {"metrics.tasks", "metrics.deadline.s", "metrics.note", "params.n_paths",
            "worker_set_changed", "schema_version"} <= set(frame.columns)
    assert frame.loc[0, "worker_names"] == '["a-0", "a-1"]'
    assert frame.loc[1, "worker_names"] == "[]"
    assert frame.loc[0, "metrics.deadline.s"] == 10.0


def test_an_empty_dict_field_keeps_its_column() -> None:
    frame = tidy_frame([record(params={})])
    assert frame.loc[0, "params"] == "{}"


def test_a_column_of_mixed_types_becomes_text_for_arrow() -> None:
    frame = tidy_frame([record(repeat=0, metrics={"x": 1}), record(repeat=1, metrics={"x": "a"}),
                        record(repeat=2, metrics={})])
    fixed = arrow_safe(frame)
    assert list(fixed["metrics.x"][:2]) == ["1", "a"] and pd.isna(fixed["metrics.x"][2])
    pytest.importorskip("pyarrow")
    import pyarrow as pa

    pa.Table.from_pandas(fixed)  # would raise on the mixed column


def test_an_unknown_format_is_refused_with_the_closest() -> None:
    with pytest.raises(UsageError, match="did you mean 'parquet'"):
        check_format("parquett")
    with pytest.raises(UsageError, match="choose one of pytest-benchmark, csv, parquet"):
        check_format("xlsx")


def test_no_records_give_an_empty_frame() -> None:
    assert list(tidy_frame([]).columns) == ["run_id"]
    assert isinstance(tidy_frame([]), pd.DataFrame)
