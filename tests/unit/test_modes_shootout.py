"""The scheduler shoot-out's pure parts: mode planning, joblib routing, baseline-aware
speedups, too-fine detection, capacity shares, overhead rows, the grouped bar chart,
and the calibration's own measurements (real pools, small sizes)."""

from __future__ import annotations

import pytest
from joblib.parallel import get_active_backend
from matplotlib.image import imread

from clusterbench.analysis.modes import capacity_shares, overhead_rows, too_fine, widest_points
from clusterbench.analysis.speedup import summarize
from clusterbench.report.markdown import render_report
from clusterbench.report.plots import plot_modes
from clusterbench.results.record import Record
from clusterbench.runner.calibrate import Calibration, task_overhead
from clusterbench.runner.modes import open_mode
from clusterbench.runner.plan import plan_points
from clusterbench.runner.scenario import parse_scenario


def rec(workload: str, scheduler: str, workers: int, seconds: float, **fields) -> Record:
    base = {"run_id": "r", "size": "tiny", "repeat": 0, "verified": True}
    return Record(workload=workload, scheduler=scheduler, workers=workers, seconds=seconds,
                  **(base | fields))


# --- planning -----------------------------------------------------------------------------


def test_scatter_mode_is_planned_for_joblib_workloads_only_and_local_cluster_is_clamped():
    scenario = parse_scenario({"workloads": ["montecarlo", "randomforest"], "workers": "1,2,4",
                               "schedulers": ["synchronous", "distributed-scatter",
                                              "local-distributed"]})
    points = plan_points(scenario, 4, {"montecarlo": "dask", "randomforest": "joblib"},
                         {"local-distributed": 2})
    labels = [(p.workload.name, p.scheduler, p.workers) for p in points]
    assert labels == [
        ("montecarlo", "synchronous", 1),
        ("montecarlo", "local-distributed", 1), ("montecarlo", "local-distributed", 2),
        ("randomforest", "synchronous", 1),
        ("randomforest", "distributed-scatter", 1), ("randomforest", "distributed-scatter", 2),
        ("randomforest", "distributed-scatter", 4),
        ("randomforest", "local-distributed", 1), ("randomforest", "local-distributed", 2),
    ]


def test_unknown_mode_is_a_one_line_error_with_a_hint():
    with pytest.raises(Exception, match="'schedulers'.*got 'distributed-scater'.*did you mean "
                                        "'distributed-scatter'"):
        parse_scenario({"workloads": ["montecarlo"], "schedulers": ["distributed-scater"]})


# --- joblib routing and what ran ----------------------------------------------------------


@pytest.mark.parametrize(("mode", "backend"), [("synchronous", "SequentialBackend"),
                                               ("threads", "ThreadingBackend"),
                                               ("processes", "LokyBackend")])
def test_each_local_mode_routes_joblib_and_records_what_ran(mode, backend):
    with open_mode(mode, 2) as ctx, ctx.joblib(scatter=("ignored",)):
        active, _ = get_active_backend()
        assert type(active).__name__ == backend
    assert ctx.executors == {f"joblib {backend.removesuffix('Backend').lower()}"}


def test_compute_counts_distinct_tasks_of_shared_graphs():
    import dask
    from dask.delayed import Delayed

    graph = {"a": 1, "b": (sum, ["a", "a"]), "c": (abs, "b")}
    with open_mode("threads", 2) as ctx:
        assert ctx.compute(Delayed("b", graph), Delayed("c", graph)) == (2, 2)
        assert ctx.tasks == 3  # not 6: both keys share one graph
        ctx.compute(*[dask.delayed(abs)(-i) for i in range(5)])
        assert ctx.tasks == 8
        assert ctx.executors == {"dask threads"}
        ctx.reset_counters()
        assert (ctx.tasks, ctx.executors) == (0, set())


def test_min_task_seconds_keeps_overhead_below_two_percent():
    with open_mode("threads", 1) as ctx:
        assert ctx.min_task_seconds() == 0.1  # not calibrated: the default
    with open_mode("threads", 1, task_overhead=300e-6) as ctx:
        assert ctx.min_task_seconds() == pytest.approx(0.015)


# --- analysis ------------------------------------------------------------------------------


def test_pipeline_aware_speedup_is_against_the_sklearn_serial_run():
    records = [
        rec("gridsearch.pipeline", "synchronous", 1, 9.0),
        rec("gridsearch.pipeline", "processes", 2, 5.0),
        rec("gridsearch.pipeline-aware", "synchronous", 1, 3.0, baseline="gridsearch.pipeline"),
        rec("gridsearch.pipeline-aware", "threads", 2, 2.0, baseline="gridsearch.pipeline"),
        rec("alone", "threads", 2, 2.0, baseline="not-measured"),
        rec("alone", "synchronous", 1, 3.0, baseline="not-measured"),
    ]
    summary = summarize(records).set_index(["workload", "scheduler"])
    aware = summary.loc[("gridsearch.pipeline-aware", "threads")]
    assert aware["speedup_vs_serial"] == pytest.approx(4.5)
    assert aware["serial_reference"] == "gridsearch.pipeline"
    assert summary.loc[("gridsearch.pipeline", "processes"), "speedup_vs_serial"] == 1.8
    # A baseline that was not measured falls back to the workload's own serial run.
    assert summary.loc[("alone", "threads"), "speedup_vs_serial"] == 1.5
    assert summary.loc[("alone", "threads"), "serial_reference"] == "alone"


def test_too_fine_flags_points_above_two_percent_overhead():
    records = [
        rec("squares", "threads", 2, 0.010, metrics={"tasks": 20, "task_overhead_s": 50e-6}),
        rec("mc", "threads", 2, 3.0, metrics={"tasks": 8, "task_overhead_s": 50e-6}),
        rec("forest", "threads", 2, 1.0, metrics={"executor": "joblib threading"}),
    ]
    summary = summarize(records)
    flagged = too_fine(summary)
    assert list(flagged["workload"]) == ["squares"]
    assert flagged.iloc[0]["overhead_share"] == pytest.approx(0.1)
    assert summary.set_index("workload").loc["forest", "executor"] == "joblib threading"


def test_capacity_share_takes_the_best_mode_per_worker_count():
    records = [rec("mc", "synchronous", 1, 10.0), rec("mc", "threads", 2, 9.0),
               rec("mc", "processes", 2, 5.5), rec("mc", "processes", 4, 5.0)]
    shares = capacity_shares(summarize(records), {"1": 1.0, "2": 1.9})
    assert len(shares) == 1  # no capacity measured for 4 workers
    row = shares.iloc[0]
    assert (row["best_mode"], row["workers"]) == ("processes", 2)
    assert row["share"] == pytest.approx(10.0 / 5.5 / 1.9)
    assert capacity_shares(summarize(records), None).empty


def test_overhead_rows_and_widest_points():
    calibration = Calibration({"distributed": 2e-3, "threads": 3e-4}, {"distributed": 2,
                                                                       "threads": 2})
    assert overhead_rows(calibration.as_json()) == [("threads", 2, pytest.approx(300.0)),
                                                    ("distributed", 2, pytest.approx(2000.0))]
    assert overhead_rows(None) == []
    summary = summarize([rec("mc", "threads", 1, 2.0), rec("mc", "threads", 2, 1.0)])
    assert list(widest_points(summary)["workers"]) == [2]


def test_report_and_bar_chart_show_modes_capacity_overhead_and_warnings(tmp_path):
    records = [
        rec("mc", "synchronous", 1, 2.0, metrics={"executor": "dask synchronous"}),
        rec("mc", "processes", 2, 1.1, metrics={"executor": "dask processes", "tasks": 8,
                                                 "task_overhead_s": 3e-4}),
        rec("sq", "synchronous", 1, 0.01, metrics={"tasks": 20, "task_overhead_s": 2e-4}),
    ]
    summary = summarize(records)
    calibration = Calibration({"processes": 3e-4}, {"processes": 2}, {"127.0.0.1": 1e-3},
                              {1: 1.0, 2: 1.8}, 0.25).as_json()
    text = render_report(summary, summary.iloc[0:0], {"calibration": calibration}, "r")
    assert "| mc | tiny | processes | dask processes | 2 | 1.1 | 1.82× | mc |" in text
    # 1.82x against a 1.80x ceiling is within the 5 % noise margin: at the ceiling, not above
    assert "| mc | tiny | 2 | processes | 1.82× | 1.80× | 100% |" in text
    assert "| processes | 2 | 300 |" in text and "| 127.0.0.1 | 1.00 |" in text
    assert "**tasks too fine**: sq (tiny), synchronous ×1: 20 tasks" in text
    image = imread(plot_modes(summary, tmp_path / "modes.png"))
    assert image.shape[0] > 400 and image.shape[1] > 400


# --- calibration (real pools, kept small) --------------------------------------------------


def test_task_overhead_is_measured_and_counters_are_reset():
    with open_mode("threads", 2) as ctx:
        seconds = task_overhead(ctx, tasks=50, rounds=2)
        assert (ctx.tasks, ctx.executors) == (0, set())
    assert 0 < seconds < 0.05  # per empty task; a broken timer gives 0 or seconds


def _pid_after_sleep(seconds: float) -> int:
    import os
    import time

    time.sleep(seconds)
    return os.getpid()


def test_processes_mode_spreads_coarse_tasks_over_every_process():
    # dask's default chunksize (6 tasks per submission) put a point's few coarse tasks all
    # into one process; each task must get its own submission.
    with open_mode("processes", 2) as ctx:
        pids = ctx.map(_pid_after_sleep, [0.30, 0.31, 0.32, 0.33])  # distinct: pure keys
    assert len(set(pids)) == 2
