"""Workload ``params``: each built-in workload declares them, `run` refuses bad ones in one
line before anything starts, and a ``prepare`` that still fails is a failed point."""

from __future__ import annotations

import pytest

from clusterbench.api.prepare import check_workloads as _check_workloads
from clusterbench.errors import ScenarioError
from clusterbench.results.store import RunStore
from clusterbench.runner.execute import Sweep
from clusterbench.runner.plan import plan_points
from clusterbench.runner.scenario import parse_scenario
from clusterbench.suggest import did_you_mean
from clusterbench.workloads.registry import WORKLOADS, resolve

# name -> (good params, an unknown key and its hint, a badly typed field)
CASES = {
    "montecarlo": ({"n_paths": 800, "kernel": "numpy", "s0": 100, "min_task_seconds": None},
                   ("kernal", "kernel"), ("n_paths", "800")),
    "randomforest": ({"n_estimators": 10}, ("n_estimator", "n_estimators"),
                     ("n_estimators", 1.5)),
    "randomforest.blocks": ({"n_estimators": 10}, ("estimators", "n_estimators"),
                            ("n_estimators", 0)),
    "gridsearch.svc": ({"n_samples": 300}, ("n_sample", "n_samples"), ("n_samples", True)),
    "gridsearch.pipeline": ({"n_components": [2, 4], "svd": "scipy"},
                            ("n_component", "n_components"), ("n_components", 5)),
    "gridsearch.pipeline-aware": ({"n_features": 20}, ("svds", "svd"), ("n_features", None)),
}
# name -> (field, valid choices, a wrong one)
CHOICES = {
    "montecarlo": ("kernel", ("python", "numpy"), "fortran"),
    "gridsearch.pipeline": ("svd", ("numpy", "scipy"), "lapack"),
    "gridsearch.pipeline-aware": ("svd", ("numpy", "scipy"), "sciyp"),
}


def test_every_built_in_workload_is_covered_and_declares_its_params():
    assert set(CASES) == set(WORKLOADS)
    assert all(workload.params_model is not None for workload in WORKLOADS.values())


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_size_table_passes_its_own_declaration(name):
    workload = WORKLOADS[name]
    for size in workload.sizes:
        assert workload.params_problem(workload.size_params(size)) is None, size


@pytest.mark.parametrize("name", sorted(CASES))
def test_good_params_pass(name):
    assert WORKLOADS[name].params_problem(CASES[name][0]) is None
    assert WORKLOADS[name].params_problem({}) is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_unknown_key_names_the_closest_and_the_valid_ones(name):
    key, hint = CASES[name][1]
    problem = WORKLOADS[name].params_problem({key: 1})
    valid = ", ".join(sorted(WORKLOADS[name].params_model.model_fields))
    assert problem == f"unknown field {key!r} (did you mean {hint!r}?); valid: {valid}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_type_names_the_field_and_the_value(name):
    field, value = CASES[name][2]
    problem = WORKLOADS[name].params_problem({field: value})
    assert problem.startswith(f"field {field!r}: input should be ")
    assert problem.endswith(f", got {value!r}")


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_a_bad_choice_names_the_valid_choices(name):
    field, valid, wrong = CHOICES[name]
    problem = WORKLOADS[name].params_problem({field: wrong})
    assert problem == (f"field {field!r}: must be one of {', '.join(valid)}, got {wrong!r}"
                       f"{did_you_mean(wrong, valid)}")


def test_nested_values_and_odd_keys_stay_one_line():
    pipeline = WORKLOADS["gridsearch.pipeline"]
    assert pipeline.params_problem({"n_components": [3, 0]}) == (
        "field 'n_components[1]': input should be greater than 0, got 0")
    assert pipeline.params_problem({1: 2}).startswith("unknown field 1; valid: n_components")
    problem = WORKLOADS["montecarlo"].params_problem({"s0": "a\nb" * 100})
    assert "\n" not in problem and problem.endswith("...")


def test_more_paths_than_this_machines_memory_holds_are_refused_before_a_run():
    """Each path's payoff (8 bytes) comes back to the client; 10**14 paths failed every
    point with a MemoryError once the cluster was up."""
    import psutil

    montecarlo = WORKLOADS["montecarlo"]
    fits = psutil.virtual_memory().total // 8
    assert montecarlo.params_problem({"n_paths": fits}) is None
    problem = montecarlo.params_problem({"n_paths": 10**14})
    assert problem.startswith("field 'n_paths': the payoffs of 100,000,000,000,000 paths "
                              "(8 bytes each) come back to this machine: 800,000.0 GB, "
                              "more than its ")
    assert problem.endswith(" GB of memory, got 100000000000000")
    entry = {"name": "montecarlo", "params": {"n_paths": 10**14}}
    scenario = parse_scenario({"workloads": [entry]}, "scenarios/s.yml")
    with pytest.raises(ScenarioError, match=r"^scenarios/s.yml: workload 'montecarlo': "
                                            r"params: field 'n_paths': the payoffs"):
        _check_workloads(scenario)


def test_a_users_workload_without_a_declaration_accepts_any_params():
    squares = resolve("tests.sample_workloads:SQUARES")
    assert squares.params_model is None
    assert squares.params_problem({"anything": object()}) is None


def test_run_refuses_bad_params_with_file_workload_field_and_choices():
    entry = {"name": "montecarlo", "params": {"kernel": "numpi"}}
    scenario = parse_scenario({"workloads": [entry]}, "scenarios/s.yml")
    with pytest.raises(ScenarioError) as caught:
        _check_workloads(scenario)
    assert str(caught.value) == (
        "scenarios/s.yml: workload 'montecarlo': params: field 'kernel': must be one of "
        "python, numpy, got 'numpi' (did you mean 'numpy'?)")


def test_a_users_workload_without_the_default_size_says_how_to_choose_one():
    # The default scenario's size is `quick`; a user's workload may declare only others.
    scenario = parse_scenario({"workloads": ["tests.unit.test_workloads:TOY_WORKLOAD"],
                               "size": "quick"}, "scenarios/scaling.yml")
    with pytest.raises(ScenarioError) as caught:
        _check_workloads(scenario)
    assert str(caught.value) == ("workload 'tests.unit.test_workloads:TOY_WORKLOAD' has no "
                                 "size 'quick'; valid: tiny, small, full; choose one with "
                                 "--size")


def test_a_prepare_that_still_fails_is_a_failed_point_not_a_traceback(tmp_path):
    # A user's workload declares nothing: the unexpected key reaches prepare, which refuses it.
    plan = parse_scenario({"name": "t", "workloads": [{"name": "tests.sample_workloads:SQUARES",
                                                       "params": {"bogus": 1}}],
                           "size": "tiny", "schedulers": ["synchronous", "threads"],
                           "workers": "1", "repeats": 2, "warmup": 0})
    points = plan_points(plan, 1)
    records = Sweep(plan, RunStore.create(tmp_path, "run"), run_id="run").run(points)
    assert records and all(record.error for record in records)
    assert all("\n" not in record.error for record in records)
    assert records[0].error.startswith("preparing the inputs or the serial reference failed: "
                                       "TypeError: _prepare() got an unexpected keyword")
