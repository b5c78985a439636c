"""Scenario parsing, command-line narrowing, worker-count expansion and sweep planning."""

from __future__ import annotations

import math
import re

import pytest

from clusterbench.errors import ScenarioError
from clusterbench.results.record import Record
from clusterbench.runner.plan import plan_points
from clusterbench.runner.scenario import expand_workers, load_scenario, narrow, parse_scenario


@pytest.mark.parametrize(("text", "maximum", "expected"), [
    ("1,2,4..max", 12, (1, 2, 4, 8, 12)),
    ("1..max", 4, (1, 2, 3, 4)),
    ("1,2", 8, (1, 2)),
    ("1,2,3", 2, (1, 2)),
    ("max", 6, (6,)),
    ("1,3..max", 8, (1, 3, 5, 7, 8)),
    ("2,4..16", 64, (2, 4, 8, 16)),
])
def test_expand_workers(text, maximum, expected):
    assert expand_workers(text, maximum) == expected


@pytest.mark.parametrize("text", ["one,two", "0,1", "1,,x..max", "", "4..2", "1_0",
                                  "\uff11,\uff12", "2,4..3"])
def test_expand_workers_rejects(text):
    with pytest.raises(ScenarioError, match="field 'workers'"):
        expand_workers(text, 4)


def test_parse_defaults_and_workload_forms():
    scenario = parse_scenario({
        "workloads": ["montecarlo", {"name": "randomforest", "size": "tiny",
                                     "params": {"n_estimators": 10}}],
        "size": "small", "schedulers": "threads,distributed", "workers": [1, 2],
    }, "s.yml")
    assert [w.size for w in scenario.workloads] == ["small", "tiny"]
    assert scenario.workloads[1].params == (("n_estimators", 10),)
    assert scenario.schedulers == ("threads", "distributed")
    assert scenario.workers == "1,2" and scenario.repeats == 3 and scenario.blas_threads == 1


@pytest.mark.parametrize(("data", "message"), [
    ({"workloads": []}, "s.yml: field 'workloads': must be a non-empty list"),
    ({"workloads": ["x"], "size": "huge"},
     "s.yml: field 'size': must be one of tiny, quick, small, full, got 'huge'"),
    ({"workloads": ["x"], "schedulers": ["thread"]},
     "s.yml: field 'schedulers': must be one of synchronous, threads, processes, distributed, "
     "distributed-capacity, distributed-scatter, local-distributed, got 'thread' "
     "(did you mean 'threads'?)"),
    ({"workloads": ["x"], "repeat": 3}, "s.yml: unknown field 'repeat' (did you mean 'repeats'?)"),
    ({"workloads": ["x"], "repeats": 0},
     "s.yml: field 'repeats': must be a positive integer, got 0"),
    ({"workloads": [{"size": "tiny"}]},
     "s.yml: workloads[0]: needs a 'name', got {'size': 'tiny'}"),
])
def test_parse_errors(data, message):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, "s.yml")
    assert str(info.value) == message


def test_narrow_overrides_every_dimension():
    scenario = load_scenario("scaling")
    narrowed = narrow(scenario, workloads="montecarlo,randomforest", workers="1,2",
                      schedulers="distributed,processes", size="tiny", repeats=2, warmup=0)
    assert [w.name for w in narrowed.workloads] == ["montecarlo", "randomforest"]
    assert {w.size for w in narrowed.workloads} == {"tiny"}
    assert narrowed.schedulers == ("distributed", "processes")
    assert (narrowed.workers, narrowed.repeats, narrowed.warmup) == ("1,2", 2, 0)
    assert narrow(scenario) == scenario


def test_unknown_scenario_suggests():
    with pytest.raises(ScenarioError, match="did you mean 'scaling'"):
        load_scenario("scalling")


def test_plan_orders_reference_first_and_counts_ascending():
    scenario = parse_scenario({"workloads": ["montecarlo", "randomforest"],
                               "schedulers": ["distributed", "threads", "synchronous"],
                               "workers": "1,2,4..max"}, "s.yml")
    points = plan_points(scenario, 4)
    labels = [(p.workload.name, p.scheduler, p.workers) for p in points]
    assert labels[:6] == [("montecarlo", "synchronous", 1),
                          ("montecarlo", "distributed", 1), ("montecarlo", "distributed", 2),
                          ("montecarlo", "distributed", 4),
                          ("montecarlo", "threads", 1), ("montecarlo", "threads", 2)]
    assert len(points) == 2 * (1 + 3 + 3)


def test_record_round_trip():
    record = Record(run_id="r", workload="montecarlo", size="tiny", scheduler="distributed",
                    workers=2, repeat=1, seconds=1.25, verified=True,
                    worker_names=("a-0", "a-1"), worker_hosts=("a", "a"),
                    params={"paths": 100}, metrics={"n_tasks": 8})
    import json

    back = Record.from_dict(json.loads(record.to_json()))
    assert back == record
    newer = json.loads(record.to_json()) | {"field_from_the_future": 1}
    assert Record.from_dict(newer) == record
    failed = Record(run_id="r", workload="w", size="tiny", scheduler="threads", workers=1,
                    repeat=0, seconds=float("nan"), verified=False, error="boom")
    assert math.isnan(Record.from_dict(json.loads(failed.to_json())).seconds)


def test_order_is_inventory_by_default_fastest_first_on_request_and_validated():
    base = {"workloads": ["montecarlo"]}
    assert parse_scenario(base).order == "inventory"
    assert parse_scenario(base | {"order": "fastest-first"}).order == "fastest-first"
    assert narrow(parse_scenario(base), order="fastest-first").order == "fastest-first"
    with pytest.raises(ScenarioError, match="field 'order': must be one of inventory, "
                                            "fastest-first, got 'fastest'"):
        parse_scenario(base | {"order": "fastest"})


def test_worker_counts_that_do_not_fit_are_an_error_or_a_note():
    from clusterbench.runner.scenario import skipped_counts

    with pytest.raises(ScenarioError, match="none of '99' fits the 2 worker"):
        expand_workers("99", 2)
    assert expand_workers("1,2,99", 2) == (1, 2)
    assert skipped_counts("1,2,99", 2) == [99]       # said in a note, never silently
    assert skipped_counts("1,2,4..max", 2) == []     # "up to max" asked for exactly that
    assert parse_scenario({"workloads": ["montecarlo"], "workers": "1,128"}).workers == "1,128"


@pytest.mark.parametrize(("address", "words"), [
    ("garbage", "expected tcp://HOST:PORT"),
    ("http://127.0.0.1:8786", "(not http://)"),
    ("tcp://127.0.0.1", "expected tcp://HOST:PORT"),
])
def test_scheduler_address_is_checked_before_anything_starts(address, words):
    from clusterbench.errors import UsageError
    from clusterbench.runner.backends import scheduler_endpoint

    with pytest.raises(UsageError, match=re.escape(words)):
        scheduler_endpoint(address)
    assert scheduler_endpoint("tls://10.0.0.5:8786") == ("10.0.0.5", 8786)
    assert scheduler_endpoint("127.0.0.1:8786") == ("127.0.0.1", 8786)


def test_a_worker_progression_is_bounded():
    with pytest.raises(ScenarioError, match="more than 1024 worker counts"):
        expand_workers("1..100000000", 10**9)
    assert len(expand_workers("1..max", 1000)) == 1000
