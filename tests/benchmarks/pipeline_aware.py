"""Pipeline-aware grid search vs scikit-learn's GridSearchCV(n_jobs=2) on loky.

Run: ``python -m tests.benchmarks.pipeline_aware [--rounds 3] [--size small]``.

The PCA → LogisticRegression grid of ``gridsearch.pipeline`` (same data, folds
and grid), searched

* by scikit-learn's ``GridSearchCV(n_jobs=2)`` — joblib's default loky backend,
  which already limits BLAS to ``cores // n_jobs`` threads per process — refitting
  the PCA for every candidate; and
* by dask-ml's ``GridSearchCV`` (``gridsearch.pipeline-aware``) on dask's threaded
  scheduler with 2 threads and one BLAS thread each, fitting each distinct PCA
  once per fold.

The two are interleaved round by round (after one warm-up each) so machine noise
hits both alike.  Reported: median seconds of each, the speed ratio, PCA fits
of each, and whether best parameters and the full ranking are identical.
Issue goals: >= 2.5x faster, >= 5x fewer PCA fits, identical ranking.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from clusterbench.runner.modes import open_mode
from clusterbench.workloads import gridsearch


def sklearn_loky(data: gridsearch.SearchData) -> gridsearch.SearchResult:
    """What a scikit-learn user writes: ``GridSearchCV(..., n_jobs=2)``."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    search = GridSearchCV(data.estimator, data.param_grid, cv=StratifiedKFold(data.n_splits),
                          refit=False, n_jobs=2)
    search.fit(data.X, data.y)
    fits = len(search.cv_results_["params"]) * data.n_splits
    return gridsearch._result(search.cv_results_, fits, fits)


def pipeline_aware(data: gridsearch.SearchData) -> gridsearch.SearchResult:
    """clusterbench's pipeline-aware workload on 2 dask threads, BLAS pinned to 1."""
    with open_mode("threads", 2, blas_threads=1) as ctx:
        return gridsearch.run_dask_ml(data, ctx)


def timed(run: Any, data: gridsearch.SearchData) -> tuple[float, gridsearch.SearchResult]:
    start = time.perf_counter()
    result = run(data)
    return time.perf_counter() - start, result


def measure(rounds: int, size: str) -> dict[str, Any]:
    """Interleaved timings and the last results of both searches."""
    data = gridsearch.prepare_pipeline(size, 0)
    variants = {"sklearn loky n_jobs=2": sklearn_loky, "pipeline-aware threads x2": pipeline_aware}
    results = {name: run(data) for name, run in variants.items()}  # warm-up (pools, imports)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            seconds, results[name] = timed(run, data)
            times[name].append(seconds)
    return {"times": times, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="small")
    args = parser.parse_args()
    measured = measure(args.rounds, args.size)
    (base_name, base), (aware_name, aware) = measured["results"].items()
    medians = {name: statistics.median(t) for name, t in measured["times"].items()}
    print(f"gridsearch.pipeline[{args.size}], {args.rounds} interleaved rounds")
    print("| variant | median s | min s | PCA fits |\n|---|---:|---:|---:|")
    for name, result in measured["results"].items():
        print(f"| {name} | {medians[name]:.2f} | {min(measured['times'][name]):.2f} "
              f"| {result.prefix_fits} |")
    speed = medians[base_name] / medians[aware_name]
    fewer = base.prefix_fits / aware.prefix_fits
    same = base.best_params == aware.best_params and np.array_equal(
        base.rank_test_score, aware.rank_test_score)
    print(f"speed ratio {speed:.2f}x (goal >= 2.5x); PCA fits {fewer:.1f}x fewer (goal >= 5x); "
          f"best_params and ranking identical: {same}")


if __name__ == "__main__":
    main()
