"""Grid searches with cross-validation: an SVC and a PCA → LogisticRegression pipeline.

Three workloads:

``gridsearch.svc``
    scikit-learn ``GridSearchCV`` of an ``SVC`` over ``C × kernel × shrinking``
    (4 × 2 × 2 = 16 candidates × 3 folds = 48 fits) on
    ``make_classification(n_samples=20000)`` at full size.
``gridsearch.pipeline``
    scikit-learn ``GridSearchCV`` of ``PCA → LogisticRegression`` over
    ``pca__n_components × C × penalty`` (3 × 3 × 2 = 18 candidates × 3 folds)
    on ``make_classification(10000, 500, n_redundant=250)`` at full size.  The
    penalty is spelled ``l1_ratio`` (0 = L2, 1 = L1) because scikit-learn 1.8
    deprecated ``penalty``; ``liblinear`` solves both.  Every candidate refits
    the PCA, so the PCA is fitted ``candidates × folds`` times.  The PCA runs
    the full LAPACK SVD through NumPy (``GilReleasingPCA``, which lets threads
    overlap) unless ``params: {svd: scipy}`` asks for scikit-learn's own
    ``scipy.linalg.svd``; the LogisticRegression is ``ReproducibleLogisticRegression``
    (threaded liblinear fits equal serial ones).
``gridsearch.pipeline-aware``
    The same data and grid searched with ``dask_ml.model_selection.GridSearchCV``,
    which fits each distinct PCA once per fold and shares it between the
    candidates that differ only in the LogisticRegression.

scikit-learn's searches run inside :meth:`ExecutionContext.joblib` with
``n_jobs=None`` (joblib then takes the point's width).  dask-ml's search builds
a dask graph and hands it to a ``get`` function that executes it through
:meth:`ExecutionContext.compute`, so it runs on the point's pool or on the
point's distributed workers only.

All three searches use ``StratifiedKFold(3)`` without shuffling (every mode
sees the same folds), ``refit=False`` (the benchmark is the search; a refit is
one more serial fit) and report scores in ``ParameterGrid`` order, so the
pipeline-aware result is comparable with the scikit-learn one.  dask-ml needs
``iid=False``: its default ``iid=True`` weights each fold's score by its test
size, which moves the means in the last digits (0.893 vs 0.8930000079) and can
reorder tied candidates; with ``iid=False`` both libraries take the plain
float64 mean of identical fold scores and rank it with
``rankdata(-mean, method="min")``, so means and ranks are bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import PositiveInt

from clusterbench.workloads.base import Verdict, Workload
from clusterbench.workloads.params import WorkloadParams

if TYPE_CHECKING:
    import numpy as np

N_SPLITS = 3

# Serial seconds measured on the 2-core dev machine (one BLAS thread):
#   tiny    600 samples   ~0.6 s
#   quick  2000 samples   ~1.5 s  (the default scenario's size: a first run in <3 min)
#   small  5000 samples   ~12 s
#   full  20000 samples   ~4.5 min (extrapolated from single full-size fits of 4-9 s each;
#                                   shrinking=False costs the same as True)
# C stops at 10: one poly fit with C=100 took 22 s at half the full size (~n^2 beyond), and
# a single task that long would cap every speedup.
SVC_GRID: dict[str, list[Any]] = {
    "C": [0.01, 0.1, 1.0, 10.0],
    "kernel": ["rbf", "poly"],
    "shrinking": [True, False],
}
SVC_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"n_samples": 600},
    "quick": {"n_samples": 2_000},
    "small": {"n_samples": 5_000},
    "full": {"n_samples": 20_000},
}
# The same figures for the sweep's first time estimate (runner.eta).
SVC_SECONDS = {"tiny": 0.6, "quick": 1.5, "small": 12.0, "full": 270.0}

# Serial seconds measured on the 2-core dev machine (one BLAS thread), scikit-learn / dask-ml:
#   tiny    400 x 40    ~0.3 s / ~0.2 s
#   quick  2500 x 150   ~1.1 s  (the default scenario's size: a first run in <3 min)
#   small  6000 x 300   ~7.5 s / ~3 s
#   full  10000 x 500   ~26 s / ~8.5 s (same best parameters)
PIPELINE_C = [1e-4, 1.0, 1e4]
PIPELINE_L1_RATIO = [0.0, 1.0]
PIPELINE_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"n_samples": 400, "n_features": 40, "n_components": [5, 10, 20]},
    "quick": {"n_samples": 2_500, "n_features": 150, "n_components": [10, 30, 60]},
    "small": {"n_samples": 6_000, "n_features": 300, "n_components": [10, 50, 150]},
    "full": {"n_samples": 10_000, "n_features": 500, "n_components": [10, 50, 250]},
}
# The same figures for the sweep's first time estimate (runner.eta): scikit-learn, dask-ml.
PIPELINE_SECONDS = {"tiny": 0.3, "quick": 1.1, "small": 7.5, "full": 26.0}
PIPELINE_AWARE_SECONDS = {"tiny": 0.2, "quick": 0.6, "small": 3.0, "full": 8.5}


class SVCParams(WorkloadParams):
    """The ``params`` of ``gridsearch.svc`` (see :func:`prepare_svc`)."""

    n_samples: PositiveInt


class PipelineParams(WorkloadParams):
    """The ``params`` of both pipeline searches (see :func:`prepare_pipeline`)."""

    n_samples: PositiveInt
    n_features: PositiveInt
    n_components: list[PositiveInt]
    svd: Literal["numpy", "scipy"]


@dataclass(frozen=True, eq=False)
class SearchData:
    """Data, estimator and grid of one search."""

    X: np.ndarray
    y: np.ndarray
    estimator: Any
    param_grid: dict[str, list[Any]]
    n_splits: int = N_SPLITS


@dataclass(frozen=True, eq=False)
class SearchResult:
    """Cross-validated scores of every candidate, in ``ParameterGrid`` order.

    ``fits`` counts fits of the final estimator (candidates × folds);
    ``prefix_fits`` counts fits of a pipeline's first step (``None`` without a pipeline).
    """

    params: tuple[dict[str, Any], ...]
    mean_test_score: np.ndarray
    rank_test_score: np.ndarray
    fits: int
    prefix_fits: int | None = None

    @property
    def best_params(self) -> dict[str, Any]:
        """First candidate ranked 1, the rule of both scikit-learn and dask-ml."""
        return self.params[int(self.rank_test_score.argmin())]

    @property
    def metrics(self) -> dict[str, int]:
        """Execution facts the runner stores with the measurement."""
        metrics = {"candidates": len(self.params), "fits": self.fits}
        if self.prefix_fits is not None:
            metrics["prefix_fits"] = self.prefix_fits
        return metrics


def prepare_svc(size: str, seed: int, **params: Any) -> SearchData:
    """Classification data and the SVC grid of *size*.

    Parameters
    ----------
    size
        ``"tiny"``, ``"small"`` or ``"full"``.
    seed
        ``random_state`` of ``make_classification``.
    **params
        ``n_samples`` overrides the size table.

    Returns
    -------
    SearchData
    """
    from sklearn.datasets import make_classification
    from sklearn.svm import SVC

    merged = {**SVC_SIZES[size], **params}
    X, y = make_classification(n_samples=merged["n_samples"], random_state=seed)
    return SearchData(X, y, SVC(), {key: list(values) for key, values in SVC_GRID.items()})


def prepare_pipeline(size: str, seed: int, **params: Any) -> SearchData:
    """Wide, redundant classification data and the PCA → LogisticRegression grid of *size*.

    Parameters
    ----------
    size
        ``"tiny"``, ``"small"`` or ``"full"``.
    seed
        ``random_state`` of the data, the PCA and the solver.
    **params
        ``n_samples``, ``n_features`` or ``n_components`` override the size table;
        ``svd`` (``numpy``, the default, or ``scipy``) picks whose SVD the PCA calls
        (:mod:`clusterbench.workloads.pca`).

    Returns
    -------
    SearchData

    Raises
    ------
    ValueError
        For an unknown ``svd``.
    """
    from sklearn.datasets import make_classification
    from sklearn.pipeline import Pipeline

    from clusterbench.workloads.liblinear import ReproducibleLogisticRegression

    merged = {**PIPELINE_SIZES[size], **params}
    pca_class = _pca_class(merged.get("svd", "numpy"))
    n_features = merged["n_features"]
    X, y = make_classification(
        n_samples=merged["n_samples"],
        n_features=n_features,
        n_redundant=n_features // 2,
        random_state=seed,
    )
    # The full LAPACK SVD is what PCA ran in the 2016 measurement; the newer "auto"
    # solvers make the shared prefix almost free and hide what is being benchmarked.
    pipeline = Pipeline(
        [
            ("pca", pca_class(svd_solver="full", random_state=seed)),
            # liblinear's RNG is process-global; this subclass keeps threaded fits reproducible.
            ("logisticregression",
             ReproducibleLogisticRegression(solver="liblinear", random_state=seed)),
        ]
    )
    grid = {
        "pca__n_components": list(merged["n_components"]),
        "logisticregression__C": list(PIPELINE_C),
        "logisticregression__l1_ratio": list(PIPELINE_L1_RATIO),
    }
    return SearchData(X, y, pipeline, grid)


#: ``svd`` parameter of the pipeline workloads -> the PCA class (see :func:`_pca_class`).
PCA_SVDS = ("numpy", "scipy")


def _pca_class(svd: str) -> type:
    """``GilReleasingPCA`` for ``"numpy"``, scikit-learn's ``PCA`` for ``"scipy"``."""
    from sklearn.decomposition import PCA

    from clusterbench.workloads.pca import GilReleasingPCA

    if svd not in PCA_SVDS:
        raise ValueError(f"svd must be one of {', '.join(PCA_SVDS)}, got {svd!r}")
    return GilReleasingPCA if svd == "numpy" else PCA


def run_sklearn(data: SearchData, ctx: Any) -> SearchResult:
    """Search with scikit-learn's ``GridSearchCV`` inside ``ctx.joblib()``.

    Parameters
    ----------
    data
        From :func:`prepare_svc` or :func:`prepare_pipeline`.
    ctx
        The point's :class:`~clusterbench.runner.modes.ExecutionContext`.

    Returns
    -------
    SearchResult
        ``prefix_fits`` is ``candidates × folds`` for a pipeline: every candidate
        refits the whole pipeline on every fold.
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    search = GridSearchCV(
        data.estimator,
        data.param_grid,
        cv=StratifiedKFold(data.n_splits),
        refit=False,
        n_jobs=None,
    )
    # GridSearchCV hands X and y unchanged to every fit, so pre-scattering them matches.
    with ctx.joblib(scatter=(data.X, data.y)):
        search.fit(data.X, data.y)
    fits = len(search.cv_results_["params"]) * data.n_splits
    return _result(search.cv_results_, fits, fits if _is_pipeline(data.estimator) else None)


def run_dask_ml(data: SearchData, ctx: Any) -> SearchResult:
    """Search with dask-ml's pipeline-aware ``GridSearchCV`` on the point's scheduler.

    Parameters
    ----------
    data
        From :func:`prepare_pipeline`.
    ctx
        The point's :class:`~clusterbench.runner.modes.ExecutionContext`.

    Returns
    -------
    SearchResult
        ``prefix_fits`` counts the prefix fit tasks of the graph dask-ml built.
    """
    from dask_ml.model_selection import GridSearchCV
    from sklearn.model_selection import StratifiedKFold

    search = GridSearchCV(
        data.estimator,
        data.param_grid,
        cv=StratifiedKFold(data.n_splits),
        refit=False,
        iid=False,  # plain mean of the fold scores, as scikit-learn (see module docstring)
        scheduler=dask_get(ctx),
        n_jobs=ctx.slots,
    )
    search.fit(data.X, data.y)
    fits = len(search.cv_results_["params"]) * data.n_splits
    return _result(search.cv_results_, fits, count_prefix_fits(search.dask_graph_, data.estimator))


#: Arrays in dask-ml's graph at least this big go to the workers once, by ``scatter``.
SCATTER_MIN_BYTES = 1 << 20


def dask_get(ctx: Any) -> Callable[..., list[Any]]:
    """A dask ``get(dsk, keys, **kwargs)`` that executes a raw graph through ``ctx.compute``.

    dask-ml calls its ``scheduler`` with a graph and keys; routing that through
    the context reuses the point's pool (threads/processes) and keeps the tasks
    on the point's workers (distributed), which a plain ``client.get`` would not.
    On distributed, the data dask-ml puts into the graph (X and y) is scattered
    first (:func:`scatter_large_literals`).
    """
    from dask.delayed import Delayed

    def get(dsk: Mapping[Any, Any], keys: Sequence[Any], **_: Any) -> list[Any]:
        if ctx.is_distributed:
            dsk = scatter_large_literals(dsk, ctx.client, ctx.worker_addresses)
        return list(ctx.compute(*(Delayed(key, dsk) for key in keys)))

    return get


def scatter_large_literals(dsk: Mapping[Any, Any], client: Any, workers: Sequence[str],
                           min_bytes: int | None = None) -> dict[Any, Any]:
    """*dsk* with every NumPy array of at least *min_bytes* replaced by a broadcast future.

    dask-ml embeds X and y in its graph (13.8 MiB at ``small``): sent with the
    graph, they travel client → scheduler → one worker → the others on every
    search, and distributed warns "Sending large graph".  Broadcasting them
    first is what that warning advises.
    """
    import numpy as np

    # Read at call time (not as the default): SCATTER_MIN_BYTES is the module's knob.
    min_bytes = SCATTER_MIN_BYTES if min_bytes is None else min_bytes
    graph = dict(dsk)
    large = [key for key, value in graph.items()
             if isinstance(value, np.ndarray) and value.nbytes >= min_bytes]
    if large:
        futures = client.scatter([graph[key] for key in large], broadcast=True,
                                 workers=list(workers) or None)
        graph.update(zip(large, futures, strict=True))
    return graph


def count_prefix_fits(graph: Mapping[Any, Any], pipeline: Any) -> int:
    """Number of fit tasks of *pipeline*'s first step in a dask-ml search graph.

    dask-ml names each fit of a transformer step ``(f"{class}-fit-transform-{token}",
    candidate_group, fold)`` (``dask_ml.model_selection._search.do_fit_transform``),
    one task per distinct parameter set and fold; the count is read from the
    graph because the fits themselves may run in other processes.
    """
    from dask.utils import key_split

    name = f"{type(pipeline.steps[0][1]).__name__.lower()}-fit-transform"
    return sum(1 for key in graph if key_split(key) == name)


def verify(result: SearchResult, reference: SearchResult) -> Verdict:
    """Accept the same candidates, the same best parameters and means within 1e-6.

    Parameters
    ----------
    result, reference
        Answers of the point under test and of the serial run.

    Returns
    -------
    Verdict
    """
    import numpy as np

    if list(result.params) != list(reference.params):
        return Verdict(False, "candidates differ from the reference (count or order)")
    if result.best_params != reference.best_params:
        return Verdict(False, f"best {result.best_params} vs reference {reference.best_params}")
    gap = float(np.max(np.abs(result.mean_test_score - reference.mean_test_score)))
    ok = bool(np.allclose(result.mean_test_score, reference.mean_test_score, rtol=0, atol=1e-6))
    return Verdict(ok, f"best {result.best_params}, max |mean score diff| {gap:.1e}")


def _result(cv_results: Mapping[str, Any], fits: int, prefix_fits: int | None) -> SearchResult:
    """The comparable part of a ``cv_results_`` dict."""
    import numpy as np

    return SearchResult(
        params=tuple(dict(p) for p in cv_results["params"]),
        mean_test_score=np.asarray(cv_results["mean_test_score"], dtype=np.float64),
        rank_test_score=np.asarray(cv_results["rank_test_score"], dtype=np.int32),
        fits=fits,
        prefix_fits=prefix_fits,
    )


def _is_pipeline(estimator: Any) -> bool:
    from sklearn.pipeline import Pipeline

    return isinstance(estimator, Pipeline)


SVC_WORKLOAD = Workload(
    name="gridsearch.svc",
    prepare=prepare_svc,
    run=run_sklearn,
    verify=verify,
    sizes=SVC_SIZES,
    reference_seconds=SVC_SECONDS,
    description="GridSearchCV(SVC, C x kernel x shrinking, cv=3) via joblib",
    interface="joblib",
    params_model=SVCParams,
)
PIPELINE_WORKLOAD = Workload(
    name="gridsearch.pipeline",
    prepare=prepare_pipeline,
    run=run_sklearn,
    verify=verify,
    sizes=PIPELINE_SIZES,
    reference_seconds=PIPELINE_SECONDS,
    description="GridSearchCV(PCA -> LogisticRegression, cv=3) via joblib; PCA refit per candidate",
    interface="joblib",
    params_model=PipelineParams,
)
PIPELINE_AWARE_WORKLOAD = Workload(
    name="gridsearch.pipeline-aware",
    prepare=prepare_pipeline,
    run=run_dask_ml,
    verify=verify,
    sizes=PIPELINE_SIZES,
    reference_seconds=PIPELINE_AWARE_SECONDS,
    description="dask-ml GridSearchCV of the same pipeline; each PCA fitted once per fold",
    baseline="gridsearch.pipeline",
    params_model=PipelineParams,
)

__all__ = [
    "PIPELINE_AWARE_WORKLOAD",
    "PIPELINE_WORKLOAD",
    "SVC_WORKLOAD",
    "SearchData",
    "SearchResult",
    "count_prefix_fits",
    "dask_get",
    "scatter_large_literals",
    "prepare_pipeline",
    "prepare_svc",
    "run_dask_ml",
    "run_sklearn",
    "verify",
]
