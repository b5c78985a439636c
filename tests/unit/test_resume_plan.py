"""Which (point, round) items a resume runs again (clusterbench.runner.resume.resume_plan),
on run directories written here: records of every kind of outcome."""

from __future__ import annotations

import json
from pathlib import Path

from clusterbench.api.prepare import environment_of
from clusterbench.inventory.default import inventory_from
from clusterbench.results.record import Record
from clusterbench.runner.plan import plan_points
from clusterbench.runner.resume import resume_plan
from clusterbench.runner.scenario import parse_scenario

SCENARIO = {"name": "t", "workloads": ["montecarlo"], "size": "tiny",
            "schedulers": ["synchronous", "distributed"], "workers": "1", "repeats": 2,
            "warmup": 0}


def _run_dir(tmp_path: Path, *records: Record) -> Path:
    scenario = parse_scenario(SCENARIO, "t.yml")
    connection = type("Connection", (), {"scheduler_address": None})()
    environment = environment_of(scenario, inventory_from(None), connection)
    (tmp_path / "environment.json").write_text(json.dumps(environment))
    (tmp_path / "records.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    return tmp_path


def _record(scheduler: str, round_index: int, **fields) -> Record:
    return Record(run_id="r", workload="montecarlo", size="tiny", scheduler=scheduler,
                  workers=1, repeat=round_index, round=round_index,
                  seconds=fields.pop("seconds", 1.0), verified=fields.pop("verified", True),
                  **fields)


def _missing(run_dir: Path) -> list[tuple[str, int]]:
    plan = resume_plan(run_dir)
    points = plan_points(plan.scenario, 1)
    return [(point.scheduler, round_index) for point, round_index in plan.missing(points)]


def test_a_repeat_that_found_its_scheduler_gone_runs_again(tmp_path):
    run_dir = _run_dir(tmp_path, _record("synchronous", 0), _record("synchronous", 1),
                       _record("distributed", 0, seconds=float("nan"), verified=False,
                               error="the scheduler is gone", metrics={"scheduler_lost": True}))
    assert _missing(run_dir) == [("distributed", 0), ("distributed", 1)]


def test_a_failure_of_the_point_itself_is_not_run_again(tmp_path):
    run_dir = _run_dir(tmp_path, _record("synchronous", 0), _record("synchronous", 1),
                       _record("distributed", 0, seconds=float("nan"), verified=False,
                               error="ValueError: the workload raised"))
    assert _missing(run_dir) == []


def test_a_changed_worker_set_is_missing_and_a_done_repeat_is_not(tmp_path):
    run_dir = _run_dir(tmp_path, _record("synchronous", 0),
                       _record("distributed", 0, worker_set_changed=True),
                       _record("distributed", 1))
    assert _missing(run_dir) == [("synchronous", 1), ("distributed", 0)]


def test_a_copied_or_foreign_line_is_refused_before_resuming(tmp_path):
    """resume read the records without report's checks: a copied line counted as a repeat
    done, and the redrawn summary said n=3 for two repeats."""
    import dataclasses

    import pytest

    from clusterbench.errors import UsageError

    first = _record("synchronous", 0)
    (tmp_path / "copied").mkdir()
    (tmp_path / "foreign").mkdir()
    run_dir = _run_dir(tmp_path / "copied", first, _record("synchronous", 1), first)
    with pytest.raises(UsageError, match="record 3 repeats record 1 .*copied twice"):
        resume_plan(run_dir)
    foreign = dataclasses.replace(first, run_id="other", repeat=1, round=1)
    run_dir = _run_dir(tmp_path / "foreign", first, foreign)
    with pytest.raises(UsageError, match="records of 2 runs"):
        resume_plan(run_dir)
