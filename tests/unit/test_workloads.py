"""Workloads give the serial answer under every scheduler; the registry resolves names."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys

import numpy as np
import pytest

from clusterbench.errors import ScenarioError
from clusterbench.runner.modes import open_mode
from clusterbench.workloads import gridsearch, montecarlo, randomforest
from clusterbench.workloads.base import Verdict, Workload
from clusterbench.workloads.registry import WORKLOADS, resolve

SEED = 0
NAMES = list(WORKLOADS)


def _toy_prepare(size: str, seed: int, **params: object) -> list[int]:
    return list(range(seed, seed + 4))


def _toy_run(data: list[int], ctx: object) -> int:
    return sum(ctx.map(abs, data))


def _toy_verify(result: int, reference: int) -> Verdict:
    return Verdict(result == reference)


# A user workload, resolved below as "tests.unit.test_workloads:TOY_WORKLOAD".
TOY_WORKLOAD = Workload(
    name="toy",
    prepare=_toy_prepare,
    run=_toy_run,
    verify=_toy_verify,
    sizes={"tiny": {}, "small": {}, "full": {}},
)


def _prepare(name: str) -> object:
    workload = WORKLOADS[name]
    params = workload.size_params("tiny")
    if name == "montecarlo":
        # Tiny is far below 100 ms per task; lift the bound so the split is exercised.
        params["min_task_seconds"] = 0
    return workload.prepare("tiny", SEED, **params)


@pytest.fixture(scope="module")
def prepared() -> dict[str, object]:
    return {name: _prepare(name) for name in NAMES}


@pytest.fixture(scope="module")
def references(prepared: dict[str, object]) -> dict[str, object]:
    with open_mode("synchronous", 1) as ctx:
        return {name: WORKLOADS[name].run(prepared[name], ctx) for name in NAMES}


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
@pytest.mark.parametrize("name", NAMES)
def test_local_schedulers_reproduce_the_serial_answer(
    name: str, scheduler: str, prepared: dict, references: dict
) -> None:
    workload = WORKLOADS[name]
    with open_mode(scheduler, 2) as ctx:
        result = workload.run(prepared[name], ctx)
    verdict = workload.verify(result, references[name])
    assert verdict.ok, verdict.detail


@pytest.mark.parametrize("name", NAMES)
def test_distributed_reproduces_the_serial_answer(
    name: str, client: object, prepared: dict, references: dict
) -> None:
    workload = WORKLOADS[name]
    workers = list(client.scheduler_info()["workers"])
    with open_mode("distributed", 2, client=client, worker_addresses=workers) as ctx:
        result = workload.run(prepared[name], ctx)
    verdict = workload.verify(result, references[name])
    assert verdict.ok, verdict.detail


def test_results_carry_metrics(references: dict) -> None:
    assert references["montecarlo"].metrics == {"n_tasks": 4, "paths_per_task": 100}
    assert references["randomforest"].metrics == {"n_estimators": 50}
    assert references["gridsearch.svc"].metrics == {"candidates": 16, "fits": 48}


def test_workloads_and_their_inputs_pickle(prepared: dict) -> None:
    for workload in WORKLOADS.values():
        assert pickle.loads(pickle.dumps(workload)).name == workload.name
    pickle.loads(pickle.dumps(prepared))


@pytest.mark.parametrize("name", NAMES)
def test_prepare_is_deterministic(name: str, prepared: dict) -> None:
    again, first = _prepare(name), prepared[name]
    for field in dataclasses.fields(first):
        a, b = getattr(again, field.name), getattr(first, field.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        elif field.name != "estimator":
            assert a == b


# --- montecarlo ---------------------------------------------------------------------------


def test_montecarlo_price_does_not_depend_on_the_task_split(
    prepared: dict, references: dict
) -> None:
    with open_mode("threads", 3) as ctx:
        result = montecarlo.run(prepared["montecarlo"], ctx)
    reference = references["montecarlo"]
    assert (result.n_tasks, reference.n_tasks) == (12, 4)
    assert (result.price, result.stderr) == (reference.price, reference.stderr)


def test_montecarlo_verify_rejects_a_price_10_standard_errors_off(references: dict) -> None:
    reference = references["montecarlo"]
    shifted = dataclasses.replace(reference, price=reference.price + 10 * reference.stderr)
    assert not montecarlo.verify(shifted, reference).ok
    fewer = dataclasses.replace(reference, n_paths=reference.n_paths - 1)
    assert not montecarlo.verify(fewer, reference).ok


def test_montecarlo_price_is_plausible(references: dict) -> None:
    reference = references["montecarlo"]
    # At-the-money 4-year Asian call with 20 % volatility: about 10-11 (10.83 at 10,000 paths).
    assert 8 < reference.price < 14
    assert 0 < reference.stderr < 1


def test_plan_tasks_keeps_tasks_above_the_shortest_worthwhile_task() -> None:
    assert montecarlo.plan_tasks(200, 100.0, slots=2, min_task_seconds=0.1) == 8  # 4 per slot
    assert montecarlo.plan_tasks(200, 0.55, slots=2, min_task_seconds=0.1) == 5  # else fewer
    assert montecarlo.plan_tasks(200, 0.01, slots=8, min_task_seconds=0.1) == 1
    assert montecarlo.plan_tasks(3, 100.0, slots=4, min_task_seconds=0.1) == 3  # <= blocks
    assert montecarlo.plan_tasks(200, 0.01, slots=2, min_task_seconds=0) == 8


def test_montecarlo_task_size_follows_the_calibrated_overhead() -> None:
    data = montecarlo.prepare("small", SEED)  # ~3.2 s estimated, 160 blocks
    with open_mode("threads", 2, task_overhead=0.002) as ctx:  # 2 ms -> tasks >= 100 ms
        assert ctx.min_task_seconds() == pytest.approx(0.1)
        coarse = montecarlo.plan_tasks(data.n_blocks, data.estimated_seconds, 64,
                                       ctx.min_task_seconds())
    with open_mode("threads", 2, task_overhead=0.02) as ctx:  # 20 ms -> tasks >= 1 s
        finer_overhead = montecarlo.plan_tasks(data.n_blocks, data.estimated_seconds, 64,
                                               ctx.min_task_seconds())
    assert (coarse, finer_overhead) == (32, 3)


def test_montecarlo_sizes_tasks_by_the_measured_serial_time() -> None:
    """A machine 3x slower than the development one measures 3x the serial time and 3x
    the overhead: it gets as many tasks, not a third (tiny ran on one worker)."""
    data = montecarlo.prepare("tiny", SEED, kernel="numpy")  # 16 blocks, ~0.023 s estimated
    assert data.estimated_seconds == pytest.approx(0.0234, rel=0.01)
    with open_mode("threads", 4, task_overhead=0.0001) as ctx:  # tasks >= 5 ms
        by_estimate = montecarlo.run(data, ctx)
    with open_mode("threads", 4, task_overhead=0.0003, serial_seconds=0.0702) as ctx:
        by_measure = montecarlo.run(data, ctx)
    with open_mode("threads", 4, task_overhead=0.0003) as ctx:  # the old sizing
        by_old_rule = montecarlo.run(data, ctx)
    assert (by_estimate.n_tasks, by_measure.n_tasks, by_old_rule.n_tasks) == (4, 4, 1)
    assert by_measure.price == by_estimate.price == by_old_rule.price


def test_montecarlo_kernels_agree_statistically() -> None:
    with open_mode("synchronous", 1) as ctx:
        python = montecarlo.run(montecarlo.prepare("tiny", SEED), ctx)
        numpy = montecarlo.run(montecarlo.prepare("tiny", SEED, kernel="numpy"), ctx)
    assert python.price != numpy.price  # two different random streams...
    assert abs(python.price - numpy.price) < 3 * (python.stderr + numpy.stderr)  # ...one price
    with pytest.raises(ValueError, match="kernel must be one of python, numpy"):
        montecarlo.prepare("tiny", SEED, kernel="fortran")


def test_block_seed_is_the_spawned_child() -> None:
    child = np.random.SeedSequence(SEED).spawn(4)[3]
    direct = np.random.SeedSequence(SEED, spawn_key=(3,))
    assert np.array_equal(child.generate_state(4), direct.generate_state(4))


# --- randomforest -------------------------------------------------------------------------


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", "processes"])
def test_forest_accuracy_is_identical_under_sequential_threading_and_loky(
    scheduler: str, prepared: dict, references: dict
) -> None:
    """Same seed, same trees: joblib's sequential, threading and loky backends agree exactly."""
    with open_mode(scheduler, 2) as ctx:
        result = randomforest.run(prepared["randomforest"], ctx)
    assert result.accuracy == references["randomforest"].accuracy


def test_forest_verify_rejects_another_accuracy(references: dict) -> None:
    reference = references["randomforest"]
    worse = dataclasses.replace(reference, accuracy=reference.accuracy - 1 / 450)
    assert not randomforest.verify(worse, reference).ok


# --- gridsearch ---------------------------------------------------------------------------


def test_pipeline_aware_search_ranks_like_scikit_learn(references: dict) -> None:
    sklearn_result = references["gridsearch.pipeline"]
    aware = references["gridsearch.pipeline-aware"]
    assert aware.params == sklearn_result.params
    assert aware.best_params == sklearn_result.best_params
    np.testing.assert_array_equal(aware.rank_test_score, sklearn_result.rank_test_score)
    np.testing.assert_array_equal(aware.mean_test_score, sklearn_result.mean_test_score)
    assert gridsearch.verify(aware, sklearn_result).ok


def test_pipeline_aware_search_fits_each_pca_once_per_fold(references: dict) -> None:
    sklearn_result = references["gridsearch.pipeline"]
    aware = references["gridsearch.pipeline-aware"]
    n_components = len(gridsearch.PIPELINE_SIZES["tiny"]["n_components"])
    assert sklearn_result.prefix_fits == 18 * 3
    assert aware.prefix_fits == n_components * 3
    assert aware.prefix_fits < sklearn_result.prefix_fits
    assert aware.metrics == {"candidates": 18, "fits": 54, "prefix_fits": 9}


def test_gridsearch_verify_rejects_other_best_params_or_scores(references: dict) -> None:
    reference = references["gridsearch.svc"]
    ranks = reference.rank_test_score.copy()
    best = int(ranks.argmin())
    other = (best + 2) % len(ranks)
    ranks[best], ranks[other] = ranks[other], 1
    moved = dataclasses.replace(reference, rank_test_score=ranks)
    assert moved.best_params != reference.best_params
    assert not gridsearch.verify(moved, reference).ok
    off = dataclasses.replace(reference, mean_test_score=reference.mean_test_score + 1e-3)
    assert not gridsearch.verify(off, reference).ok


# --- registry -----------------------------------------------------------------------------


def test_registry_names() -> None:
    assert NAMES == [
        "montecarlo",
        "randomforest",
        "randomforest.blocks",
        "gridsearch.svc",
        "gridsearch.pipeline",
        "gridsearch.pipeline-aware",
    ]
    for name, workload in WORKLOADS.items():
        assert resolve(name) is workload
        assert workload.name == name
        assert set(workload.sizes) == {"tiny", "quick", "small", "full"}


def test_resolve_imports_a_user_workload() -> None:
    workload = resolve(f"{__name__}:TOY_WORKLOAD")
    assert workload is TOY_WORKLOAD
    with open_mode("threads", 2) as ctx:
        assert workload.run(workload.prepare("tiny", 1), ctx) == 1 + 2 + 3 + 4


def test_resolve_suggests_the_closest_name() -> None:
    with pytest.raises(ScenarioError) as caught:
        resolve("gridsearch.pipline")
    message = str(caught.value)
    assert "\n" not in message
    assert "did you mean 'gridsearch.pipeline'?" in message
    assert "montecarlo, randomforest, randomforest.blocks, gridsearch.svc" in message


@pytest.mark.parametrize(
    "path",
    [
        "clusterbench.workloads.montecarlo:AsianCall",  # not a Workload
        "clusterbench.workloads.montecarlo:NOPE",
        "clusterbench.no_such_module:WORKLOAD",
        "clusterbench.workloads.montecarlo:",
    ],
)
def test_resolve_rejects_bad_import_paths(path: str) -> None:
    with pytest.raises(ScenarioError, match="workload"):
        resolve(path)


def test_only_the_users_own_modules_are_pickled_by_value() -> None:
    """An import path into an installed package (clusterbench itself here) must not make
    cloudpickle send that package by value: every later process-pool task then carried
    module-level locks and failed to pickle (found by the inventory fuzzing)."""
    from cloudpickle.cloudpickle import _is_registered_pickle_by_value

    import clusterbench.workloads.montecarlo as module

    resolve("clusterbench.workloads.montecarlo:WORKLOAD")
    resolve(f"{__name__}:TOY_WORKLOAD")
    with pytest.raises(ScenarioError):
        resolve("clusterbench:nope")
    assert not _is_registered_pickle_by_value(module)
    assert _is_registered_pickle_by_value(sys.modules[__name__])  # a file of the checkout


def test_importing_the_registry_does_not_import_scikit_learn() -> None:
    code = (
        "import sys, clusterbench.workloads.registry; "
        "sys.exit(' '.join(m for m in ('sklearn', 'dask', 'dask_ml') if m in sys.modules) or None)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_forest_blocks_give_the_same_votes_for_every_split(prepared: dict) -> None:
    data = prepared["randomforest"]  # 50 trees = 2 blocks of 25
    with open_mode("synchronous", 1, task_overhead=0.0) as ctx:
        whole = randomforest.run_blocks(data, ctx)
    with open_mode("threads", 2, task_overhead=0.0) as ctx:
        split = randomforest.run_blocks(data, ctx)
    joined = randomforest.block_votes((data, 0, 2))
    parts = randomforest.block_votes((data, 0, 1)) + randomforest.block_votes((data, 1, 2))
    np.testing.assert_array_equal(joined, parts)
    assert joined.sum() == 50 * len(data.y_test)  # every tree votes once per sample
    assert whole.accuracy == split.accuracy > 0.9


def test_distributed_search_sends_its_data_once_not_inside_the_graph(
    client: object, prepared: dict, references: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import Future

    data = prepared["gridsearch.pipeline-aware"]
    workers = list(client.scheduler_info()["workers"])
    graph = {"X": data.X, "y": data.y, "small": np.zeros(3)}
    scattered = gridsearch.scatter_large_literals(graph, client, workers, min_bytes=1000)
    assert isinstance(scattered["X"], Future) and isinstance(scattered["y"], Future)
    assert isinstance(scattered["small"], np.ndarray)  # below the threshold: left in the graph
    assert sorted(client.who_has([scattered["X"]])[scattered["X"].key]) == sorted(workers)
    np.testing.assert_array_equal(scattered["X"].result(), data.X)
    # The whole search with X and y scattered (threshold 0) still gives the serial answer.
    monkeypatch.setattr(gridsearch, "SCATTER_MIN_BYTES", 0)
    sent = []
    real = gridsearch.scatter_large_literals

    def recording(*args: object) -> dict:
        graph = real(*args)
        sent.extend(value for value in graph.values() if isinstance(value, Future))
        return graph

    monkeypatch.setattr(gridsearch, "scatter_large_literals", recording)
    with open_mode("distributed", 2, client=client, worker_addresses=workers) as ctx:
        result = gridsearch.run_dask_ml(data, ctx)
    assert len(sent) == 2  # X and y went out as futures
    assert gridsearch.verify(result, references["gridsearch.pipeline-aware"]).ok
