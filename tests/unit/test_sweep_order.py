"""Execution order of a sweep (interleaved rounds vs blocked), stabilizing repeats, and the
worker-set judgement.  Runs real (tiny) workloads under synchronous/threads: no cluster."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from clusterbench.results.store import RunStore
from clusterbench.runner import execute
from clusterbench.runner.execute import Sweep
from clusterbench.runner.plan import plan_points, shuffled_round
from clusterbench.runner.scenario import parse_scenario
from clusterbench.runner.workerset import judge


def scenario(**fields):
    data = {"name": "t", "workloads": ["tests.sample_workloads:SQUARES"], "size": "tiny",
            "schedulers": ["synchronous", "threads"], "workers": "1,2", "repeats": 3,
            "warmup": 1, "seed": 7} | fields
    return parse_scenario(data)


def sweep(tmp_path, **fields):
    plan = scenario(**fields)
    points = plan_points(plan, 2)
    store = RunStore.create(tmp_path, "run")
    checkpoints = []
    records = Sweep(plan, store, run_id="run", checkpoint=checkpoints.append).run(points)
    return points, records, checkpoints, store


def label(record):
    return (record.scheduler, record.workers)


def test_shuffled_round_is_deterministic_per_seed_and_round():
    points = plan_points(scenario(), 2)
    assert shuffled_round(points, 7, 0) == shuffled_round(points, 7, 0)
    orders = {tuple(shuffled_round(points, seed, r)) for seed in range(5) for r in range(3)}
    assert len(orders) > 1  # the order does change with seed and round
    assert all(sorted(map(str, order)) == sorted(map(str, points)) for order in orders)


def test_interleaved_runs_rounds_in_the_seeded_order(tmp_path):
    points, records, checkpoints, store = sweep(tmp_path)
    assert Counter(label(r) for r in records) == {("synchronous", 1): 3, ("threads", 1): 3,
                                                  ("threads", 2): 3}
    expected = [label_of(p) for r in range(3) for p in shuffled_round(points, 7, r)]
    assert [label(r) for r in records] == expected
    assert [r.round for r in records] == [r for r in range(3) for _ in points]
    assert [r.position for r in records] == list(range(1, 10))
    assert {r.order_points for r in records} == {"interleaved"}
    assert all(r.verified for r in records)
    assert checkpoints == ["middle"]
    assert [r.position for r in store.records()] == list(range(1, 10))


def label_of(point):
    return (point.scheduler, point.workers)


def test_blocked_runs_each_point_back_to_back(tmp_path):
    points, records, _, _ = sweep(tmp_path, order_points="blocked")
    assert [label(r) for r in records] == [label_of(p) for p in points for _ in range(3)]
    assert [r.round for r in records] == [0, 1, 2] * 3


def test_stabilize_adds_repeats_to_noisy_points_only(tmp_path, monkeypatch):
    # Every point counts as noisy: each gets the N extra rounds, and no more.
    monkeypatch.setattr(execute, "NOISY_CV", -1.0)
    _, records, _, _ = sweep(tmp_path, stabilize=2, repeats=2)
    assert Counter(label(r) for r in records) == {("synchronous", 1): 4, ("threads", 1): 4,
                                                  ("threads", 2): 4}
    assert max(r.round for r in records) == 3


def test_stabilize_leaves_quiet_points_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "NOISY_CV", float("inf"))
    _, records, _, _ = sweep(tmp_path, stabilize=3, repeats=2)
    assert len(records) == 6


def test_problem_too_small_is_recorded(tmp_path):
    # SQUARES maps 20 items: 20 tasks for 2 threads is fine, so shrink it to 5 items.
    _, records, _, _ = sweep(tmp_path, workloads=["tests.sample_workloads:FEW"],
                             schedulers=["threads"], repeats=1)
    by_width = {r.workers: r for r in records}
    assert "problem_too_small" not in by_width[1].metrics
    assert by_width[2].metrics["problem_too_small"].startswith("5 tasks for 2 worker slot(s)")


def test_every_point_is_offered_the_measured_serial_time(tmp_path):
    """Task sizes set the measured overhead against the serial reference's measured time,
    not against the development machine's estimate."""
    _, records, _, _ = sweep(tmp_path, workloads=["tests.sample_workloads:SERIAL_SEEN"],
                             repeats=1)
    seen = {r.metrics["serial_seen"] for r in records}
    assert len(seen) == 1 and records and all(r.verified and not r.error for r in records)
    (serial,) = seen
    assert serial is not None and serial > 0


def test_serial_estimate_prefers_the_measured_time():
    from clusterbench.runner.modes import ExecutionContext

    assert ExecutionContext("threads", 2, serial_seconds=9.6).serial_estimate(3.2) == 9.6
    for unknown in (None, float("nan"), 0.0, float("inf")):
        assert ExecutionContext("threads", 2, serial_seconds=unknown).serial_estimate(3.2) == 3.2


def test_a_workload_that_calls_sys_exit_fails_its_point_and_the_sweep_goes_on(tmp_path):
    """sys.exit(3) inside a repeat ended clusterbench with exit 3 and no word."""
    _, records, _, _ = sweep(tmp_path, workloads=["tests.sample_workloads:EXITS",
                                                  "tests.sample_workloads:SQUARES"], repeats=1)
    failed = [r for r in records if r.error]
    assert failed and all(r.workers == 2 and r.workload.endswith("EXITS") for r in failed)
    assert all("the workload called sys.exit(3)" in r.error for r in failed)
    assert {r.workload for r in records if r.verified} == {
        "tests.sample_workloads:EXITS", "tests.sample_workloads:SQUARES"}


PLANNED = {"w0": "tcp://a:1", "w1": "tcp://b:1"}


def test_judge_accepts_the_planned_set():
    result = judge(PLANNED, PLANNED, ["tcp://a:1", "tcp://b:1"] * 3)
    assert result == dataclasses.replace(result, executed=("w0", "w1"), changed=False, note="")
    assert result.tasks == 6


@pytest.mark.parametrize(("after", "executed", "words"), [
    ({"w0": "tcp://a:1", "w1": "tcp://b:2"}, ["tcp://a:1"] * 4, "w1 was lost or restarted"),
    ({"w0": "tcp://a:1"}, ["tcp://a:1"] * 4, "w1 was lost or restarted"),
    (PLANNED, ["tcp://a:1"] * 3 + ["tcp://c:1"], "outside the planned set on tcp://c:1"),
    (PLANNED, ["tcp://a:1"] * 4, "w1 ran none of the 4 tasks"),
])
def test_judge_flags_a_changed_set(after, executed, words):
    result = judge(PLANNED, after, executed)
    assert result.changed and words in result.note


def test_judge_tolerates_an_idle_worker_when_there_was_too_little_work():
    assert not judge(PLANNED, PLANNED, ["tcp://a:1"] * 3).changed
