"""The scenario is a pydantic model: frozen and hashable, every copy validated, every problem
one line naming the file (or the option) and the field."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pydantic import ValidationError

from clusterbench.errors import ClusterbenchError, ScenarioError
from clusterbench.runner.resume import scenario_from_environment
from clusterbench.runner.scenario import WorkloadChoice, narrow, parse_scenario

BASE = {"workloads": ["montecarlo", {"name": "randomforest", "params": {"n_estimators": 10}}]}


def test_scenarios_and_choices_are_frozen_hashable_values():
    scenario = parse_scenario(BASE, "s.yml")
    assert scenario == parse_scenario(BASE, "s.yml")
    assert hash(scenario) == hash(parse_scenario(BASE, "s.yml"))
    assert {WorkloadChoice("montecarlo", "tiny"): 1}[WorkloadChoice(name="montecarlo",
                                                                   size="tiny")] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.repeats = 5  # type: ignore[misc]


def test_a_copy_is_validated_too():
    scenario = parse_scenario(BASE, "s.yml")
    assert dataclasses.replace(scenario, schedulers=("threads",)).schedulers == ("threads",)
    with pytest.raises(ValidationError):
        dataclasses.replace(scenario, repeats=0)
    with pytest.raises(ValidationError):
        WorkloadChoice("montecarlo", "huge")


def test_narrow_keeps_params_and_names_the_option():
    scenario = parse_scenario(BASE, "s.yml")
    tiny = narrow(scenario, size="tiny")
    assert tiny.workloads[1] == WorkloadChoice("randomforest", "tiny", (("n_estimators", 10),))
    assert narrow(scenario, workloads="pca", size="full").workloads == (
        WorkloadChoice("pca", "full"),)
    for options, message in [
        ({"size": "huge"}, "field '--size': must be one of tiny, quick, small, full, got 'huge'"),
        ({"workloads": " , "}, "field '--workloads': must be a non-empty list"),
        ({"order_points": "blok"}, "field '--order-points': must be one of interleaved, "
                                   "blocked, got 'blok' (did you mean 'blocked'?)"),
        ({"warmup": -1}, "field '--warmup': must be a non-negative integer, got -1"),
    ]:
        with pytest.raises(ScenarioError) as caught:
            narrow(scenario, **options)
        assert str(caught.value) == f"command line: {message}"


def test_an_empty_description_is_no_text():
    assert parse_scenario({"workloads": ["m"], "description": None}, "s.yml").description == ""


@pytest.mark.parametrize(("data", "message"), [
    ({"workloads": [{"name": "m", "sise": "tiny"}]},
     "s.yml: workloads[0]: unknown field 'sise' (did you mean 'size'?)"),
    ({"workloads": [{"name": "m", "size": "huge"}]},
     "s.yml: field 'workloads[0].size': must be one of tiny, quick, small, full, got 'huge'"),
    ({"workloads": [{"name": "m", "params": [1]}]},
     "s.yml: field 'workloads[0].params': must be a mapping"),
    ({"workloads": ["m"], "timeout": "soon"},
     "s.yml: field 'timeout': must be a positive number of seconds, got 'soon'"),
    ({"workloads": ["m"], "workers": [1, "x"]},
     "s.yml: field 'workers': expected counts like '1,2,4..max' or '1,2', got '1,x'"),
    ({"workloads": ["m"], "blas_threads": 0},
     "s.yml: field 'blas_threads': must be a positive integer, got 0"),
    ({"workloads": ["m"], "timeout": 1e-9},
     "s.yml: field 'timeout': at least 1 second (the upper bound of a repeat's deadline), "
     "got 1e-09"),
    ({"workloads": ["m"], "description": {"a": 1}},
     "s.yml: field 'description': must be text, got dict"),
])
def test_nested_and_typed_fields_are_one_line(data, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, "s.yml")
    assert str(caught.value) == message


def test_a_recorded_scenario_is_validated_in_one_line(tmp_path):
    recorded = {"name": "s", "workloads": [{"name": "montecarlo", "size": "tiny"}],
                "schedulers": ["threads"], "workers": "1,2", "repeats": 0, "warmup": 0,
                "seed": 0, "order_points": "interleaved", "stabilize": 0, "retries": 1,
                "scaling": "strong", "source": "s.yml"}
    with pytest.raises(ClusterbenchError) as caught:
        scenario_from_environment({"scenario": recorded}, tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'environment.json'}: scenario: field "
                                 "'repeats': must be a positive integer, got 0")
    good = scenario_from_environment({"scenario": json.loads(json.dumps(recorded))
                                      | {"repeats": 2}}, tmp_path)
    assert good.repeats == 2 and good.workloads == (WorkloadChoice("montecarlo", "tiny"),)
    assert not good.profile  # recorded before profile was: off


def test_a_recorded_profile_holds_for_the_resumed_repeats(tmp_path):
    """``run --profile`` then ``--resume``: the rest of the points get their reports too."""
    from clusterbench.api.prepare import environment_of
    from clusterbench.inventory.default import inventory_from

    scenario = dataclasses.replace(parse_scenario(BASE, "s.yml"), profile=True)
    connection = type("Connection", (), {"scheduler_address": None})()
    environment = environment_of(scenario, inventory_from(None), connection)
    resumed = scenario_from_environment(json.loads(json.dumps(environment)), tmp_path)
    assert resumed.profile and resumed.workloads == scenario.workloads


@pytest.mark.parametrize(("data", "message"), [
    ({"workloads": ["montecarlo", {"name": "montecarlo", "params": {"kernel": "numpy"}}],
      "size": "tiny"},
     "s.yml: field 'workloads': workloads[1] is workloads[0] again ('montecarlo', size "
     "'tiny'): records tell points apart by workload and size, so run the other setting as "
     "a scenario of its own and `compare` the two runs"),
    ({"workloads": ["montecarlo"], "schedulers": ["synchronous", "threads", "synchronous"]},
     "s.yml: field 'schedulers': 'synchronous' is listed twice"),
    ({"workloads": ["montecarlo"], "schedulers": "threads,threads"},
     "s.yml: field 'schedulers': 'threads' is listed twice"),
])
def test_a_point_listed_twice_is_refused(data, message):
    """Two settings of one workload became one point of twice the repeats, and report,
    compare and export then refused the run as copied lines."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, "s.yml")
    assert str(info.value) == message


def test_one_workload_in_two_sizes_is_two_points():
    scenario = parse_scenario({"workloads": [{"name": "montecarlo", "size": "tiny"},
                                             {"name": "montecarlo", "size": "small"}]})
    assert [w.size for w in scenario.workloads] == ["tiny", "small"]


def test_list_and_mapping_params_keep_a_choice_hashable():
    """`n_components: [2, 4]` passed the params check, then the runner's dict of prepared
    choices raised `unhashable type: 'list'`."""
    first = WorkloadChoice("gridsearch.pipeline", "tiny", {"n_components": [2, 4]})
    again = WorkloadChoice("gridsearch.pipeline", "tiny", {"n_components": [2, 4]})
    other = WorkloadChoice("gridsearch.pipeline", "tiny", {"n_components": [2, 5]})
    prepared = {first: 1}
    assert prepared[again] == 1 and other not in prepared
    assert hash(WorkloadChoice("x", "tiny", {"opts": {"a": 1}})) is not None
