"""`clusterbench run schedulers` end to end on real pools and a real local cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import cli, only_records

pytestmark = pytest.mark.integration

WORKLOADS = ("montecarlo,randomforest,randomforest.blocks,gridsearch.pipeline,"
             "gridsearch.pipeline-aware")


@pytest.fixture(scope="module")
def shootout(tmp_path_factory) -> tuple[object, Path]:
    """One tiny shoot-out over every mode, plus a deliberately too-fine user workload."""
    results = tmp_path_factory.mktemp("shootout")
    done = cli("run", "schedulers", "--size", "tiny", "--repeats", "1",
               "--workloads", WORKLOADS + ",tests.sample_workloads:SQUARES",
               "--results-dir", str(results))
    return done, results


def test_every_mode_runs_and_verifies(shootout):
    done, results = shootout
    assert done.returncode == 0, done.stderr + done.stdout
    records = only_records(results)
    assert all(r["verified"] and r["error"] is None for r in records), records
    modes = {(r["workload"], r["scheduler"]) for r in records}
    local_modes = {"synchronous", "threads", "processes", "distributed"}
    for workload in WORKLOADS.split(","):
        expected = local_modes | ({"distributed-scatter"} if workload in (
            "randomforest", "gridsearch.pipeline") else set()) | (
            {"distributed-capacity"} if workload in ("montecarlo", "randomforest.blocks")
            else set())
        assert {m for w, m in modes if w == workload} == expected, workload
    # The default inventory is this machine: local-distributed would duplicate distributed.
    assert "local-distributed = distributed" in done.stderr


def test_records_say_what_ran(shootout):
    _, results = shootout
    ran = {(r["workload"], r["scheduler"]): r["metrics"]["executor"]
           for r in only_records(results)}
    assert ran[("randomforest", "processes")] == "joblib loky"
    assert ran[("randomforest", "distributed")] == "joblib dask"
    assert ran[("gridsearch.pipeline", "distributed-scatter")] == "joblib dask + scatter"
    assert ran[("gridsearch.pipeline", "threads")] == "joblib threading"
    assert ran[("montecarlo", "processes")] == "dask processes"
    assert ran[("gridsearch.pipeline-aware", "distributed")] == "dask distributed"


def test_pipeline_aware_counts_prefix_fits_and_compares_with_sklearn_serial(shootout):
    _, results = shootout
    records = only_records(results)
    aware = [r for r in records if r["workload"] == "gridsearch.pipeline-aware"]
    sklearn = [r for r in records if r["workload"] == "gridsearch.pipeline"]
    # tiny grid: 3 PCA sizes × 3 folds fitted once each, vs 18 candidates × 3 folds refits
    assert {r["metrics"]["prefix_fits"] for r in aware} == {9}
    assert {r["metrics"]["prefix_fits"] for r in sklearn} == {54}
    assert {r["baseline"] for r in aware} == {"gridsearch.pipeline"}
    (run_dir,) = results.iterdir()
    summary = (run_dir / "summary.csv").read_text().splitlines()
    assert all(",gridsearch.pipeline," in line for line in summary
               if line.startswith("gridsearch.pipeline-aware,"))


def test_calibration_is_stored_and_reported(shootout):
    _, results = shootout
    (run_dir,) = results.iterdir()
    calibration = json.loads((run_dir / "environment.json").read_text())["calibration"]
    assert set(calibration["task_overhead"]) == {"synchronous", "threads", "processes",
                                                 "distributed", "distributed-capacity",
                                                 "distributed-scatter"}
    assert all(0 < s < 0.1 for s in calibration["task_overhead"].values())
    assert calibration["capacity"]["1"] == 1.0 and calibration["capacity"]["2"] > 0
    assert list(calibration["round_trip"]) == ["127.0.0.1"]
    report = (run_dir / "report.md").read_text()
    for section in ("## Execution modes", "## Share of the machine's capacity",
                    "## Per-task overhead (measured)", "![modes](modes.png)"):
        assert section in report
    assert (run_dir / "modes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_too_fine_tasks_are_warned_about(shootout):
    done, results = shootout
    (run_dir,) = results.iterdir()
    # SQUARES maps 20 microsecond tasks: overhead dwarfs compute under every mode.
    assert "warning: tasks too fine in tests.sample_workloads:SQUARES" in " ".join(
        done.stderr.split())
    assert "**tasks too fine**: tests.sample_workloads:SQUARES" in (
        run_dir / "report.md").read_text()
    montecarlo = [r for r in only_records(results) if r["workload"] == "montecarlo"]
    assert all(r["metrics"]["tasks"] >= 1 and r["metrics"]["task_overhead_s"] > 0
               for r in montecarlo)
