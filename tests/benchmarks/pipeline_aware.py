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

Both run once with the workload's default PCA (NumPy's SVD, which releases the
GIL: ``clusterbench.workloads.pca``) and once with scikit-learn's own
(``svd=scipy``, SciPy's SVD, which holds it); each pair compares the same
pipeline.  All four are interleaved round by round (after one warm-up each) so
machine noise hits them alike.  Reported: median seconds, the speed ratio per
SVD, PCA fits of each, and whether best parameters and the full ranking are
identical.  Issue goals: >= 2.5x faster, >= 5x fewer PCA fits, identical ranking.
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


SVDS = ("numpy", "scipy")
SEARCHES = {"sklearn loky n_jobs=2": sklearn_loky, "pipeline-aware threads x2": pipeline_aware}


def measure(rounds: int, size: str) -> dict[str, Any]:
    """Interleaved timings and the last results of both searches with both SVDs."""
    data = {svd: gridsearch.prepare_pipeline(size, 0, svd=svd) for svd in SVDS}
    variants = {(svd, name): run for svd in SVDS for name, run in SEARCHES.items()}
    results = {key: run(data[key[0]]) for key, run in variants.items()}  # warm-up
    times: dict[tuple[str, str], list[float]] = {key: [] for key in variants}
    for _ in range(rounds):
        for key, run in variants.items():
            seconds, results[key] = timed(run, data[key[0]])
            times[key].append(seconds)
    return {"times": times, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="small")
    args = parser.parse_args()
    measured = measure(args.rounds, args.size)
    times, results = measured["times"], measured["results"]
    medians = {key: statistics.median(t) for key, t in times.items()}
    print(f"gridsearch.pipeline[{args.size}], {args.rounds} interleaved rounds")
    print("| PCA's SVD | variant | median s | min s | PCA fits |\n|---|---|---:|---:|---:|")
    for (svd, name), result in results.items():
        print(f"| {svd} | {name} | {medians[svd, name]:.2f} | {min(times[svd, name]):.2f} "
              f"| {result.prefix_fits} |")
    base_name, aware_name = SEARCHES
    for svd in SVDS:
        base, aware = results[svd, base_name], results[svd, aware_name]
        speed = medians[svd, base_name] / medians[svd, aware_name]
        fewer = base.prefix_fits / aware.prefix_fits
        same = base.best_params == aware.best_params and np.array_equal(
            base.rank_test_score, aware.rank_test_score)
        print(f"{svd} SVD: speed ratio {speed:.2f}x (goal >= 2.5x); PCA fits {fewer:.1f}x fewer "
              f"(goal >= 5x); best_params and ranking identical: {same}")


if __name__ == "__main__":
    main()
