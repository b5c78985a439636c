"""Random forest on the digits data set, parallelised by joblib.

The workload as published in the source write-up: ``load_digits()``, a 75 %
train split and ``RandomForestClassifier(n_estimators=8000)``.  The forest is
fitted and scored inside :meth:`ExecutionContext.joblib`, so its trees are
built by whatever joblib backend the point maps to (``sequential``,
``threading``, ``loky`` or ``dask``).

``n_jobs=None`` is deliberate: scikit-learn passes it to ``joblib.Parallel``,
which then takes ``n_jobs`` from the surrounding ``parallel_config`` (checked
with scikit-learn 1.9.1 / joblib 1.6: the forest runs on 2 threading/loky
workers under ``parallel_config(n_jobs=2)``).  A fixed number here would
override the point's width.

Determinism: every tree's seed is drawn from ``random_state`` in the parent
before any tree is built, so the trees do not depend on the backend.  The
prediction sums per-tree probabilities in completion order, but the trees are
grown to pure leaves, so every term is 0 or 1 and the sum is exact in any
order: the accuracy is bit-identical across backends.

``randomforest.blocks`` grows the same number of trees as fixed blocks of
:data:`BLOCK_TREES` (block ``b`` is a forest seeded from
``SeedSequence(seed, spawn_key=(b,))``), one task per contiguous range of
blocks, each returning only its integer votes on the test set.  It exists
because scikit-learn dispatches one joblib call per tree: ~3 ms tasks whose
fitted trees all travel back to the parent, which on 2 cores steals CPU from
the workers (loky reached 1.2-1.5x where the machine allows 1.9x).  Blocks
are sized from the mode's calibrated overhead, like Monte Carlo's paths; the
votes are integers, so the accuracy is identical for every split — but it is
a different forest from ``randomforest``'s (other per-tree seeds), verified
against its own serial run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import PositiveInt

from clusterbench.workloads.base import Verdict, Workload, block_seed, plan_tasks
from clusterbench.workloads.params import WorkloadParams

BLOCK_TREES = 25
# Fit + vote of one tree on the digits, serial, idle dev machine (1000 trees in ~3.1 s):
# sizes the serial reference's own tasks; every other point uses its measured time.
SECONDS_PER_TREE = 3e-3

# Serial seconds measured on the 2-core dev machine (fit + score, one BLAS thread; the
# second figure with the cores shared with other jobs):
#   tiny     50 trees   0.17 s / 0.6 s
#   quick   600 trees   1.7 s  (the default scenario's size: a first run in <3 min)
#   small  3000 trees   ~10 s (2000 took 6.9 s) / 16 s
#   full   8000 trees   ~28 s (extrapolated) / 71 s  (the published size; the source took
#                       15 min on its desktop)
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"n_estimators": 50},
    "quick": {"n_estimators": 600},
    "small": {"n_estimators": 3_000},
    "full": {"n_estimators": 8_000},
}
# The same figures for the sweep's first time estimate (runner.eta).
REFERENCE_SECONDS = {"tiny": 0.17, "quick": 1.7, "small": 10.0, "full": 28.0}


class Params(WorkloadParams):
    """The ``params`` a scenario may give (see :func:`prepare`)."""

    n_estimators: PositiveInt


@dataclass(frozen=True)
class ForestData:
    """Train/test split of the digits and the forest size."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    n_estimators: int
    seed: int


@dataclass(frozen=True)
class ForestResult:
    """Test accuracy of the fitted forest."""

    accuracy: float
    n_estimators: int
    n_tasks: int | None = None

    @property
    def metrics(self) -> dict[str, int]:
        """Execution facts the runner stores with the measurement."""
        facts = {"n_estimators": self.n_estimators}
        return facts | ({"n_tasks": self.n_tasks} if self.n_tasks is not None else {})


def prepare(size: str, seed: int, **params: Any) -> ForestData:
    """Split the digits 75/25 with *seed*; *params* may override ``n_estimators``.

    Parameters
    ----------
    size
        ``"tiny"``, ``"small"`` or ``"full"``.
    seed
        ``random_state`` of the split and of the forest.
    **params
        ``n_estimators``.

    Returns
    -------
    ForestData
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    merged = {**SIZES[size], **params}
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)  # the forest's own dtype: no hidden copy per fit (see run)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed)
    return ForestData(X_train, X_test, y_train, y_test, seed=seed, **merged)


def run(data: ForestData, ctx: Any) -> ForestResult:
    """Fit the forest and score it on the test split, both through ``ctx.joblib()``.

    Parameters
    ----------
    data
        From :func:`prepare`.
    ctx
        The point's :class:`~clusterbench.runner.modes.ExecutionContext`.

    Returns
    -------
    ForestResult
    """
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(
        n_estimators=data.n_estimators, random_state=data.seed, n_jobs=None
    )
    # The forest passes its validated float32 X to every tree; X_train is float32 already,
    # so it is that very object and the distributed-scatter mode can pre-scatter it.
    with ctx.joblib(scatter=(data.X_train,)):
        forest.fit(data.X_train, data.y_train)
        accuracy = forest.score(data.X_test, data.y_test)
    return ForestResult(accuracy=float(accuracy), n_estimators=data.n_estimators)


def run_blocks(data: ForestData, ctx: Any) -> ForestResult:
    """Grow the trees as fixed blocks, one task per range of blocks; vote on the test set.

    Parameters
    ----------
    data
        From :func:`prepare`.
    ctx
        The point's :class:`~clusterbench.runner.modes.ExecutionContext`.

    Returns
    -------
    ForestResult
        ``n_tasks`` in its metrics says how the blocks were grouped.
    """
    n_blocks = math.ceil(data.n_estimators / BLOCK_TREES)
    estimate = data.n_estimators * SECONDS_PER_TREE
    n_tasks = plan_tasks(n_blocks, ctx.serial_estimate(estimate), ctx.slots,
                         ctx.min_task_seconds())
    ranges = ctx.block_ranges(n_blocks, n_tasks)  # by worker capacity: distributed-capacity
    votes = ctx.map(block_votes, [(data, *r) for r in ranges])
    predicted = np.argmax(np.sum(votes, axis=0), axis=1)  # ties: first class, as sklearn
    accuracy = float(np.mean(predicted == data.y_test))
    return ForestResult(accuracy=accuracy, n_estimators=data.n_estimators, n_tasks=len(ranges))


def block_votes(task: tuple[ForestData, int, int]) -> np.ndarray:
    """One task: test-set votes (samples × classes, integers) of blocks ``start..stop-1``."""
    from sklearn.ensemble import RandomForestClassifier

    data, start, stop = task
    votes = np.zeros((len(data.X_test), len(np.unique(data.y_train))), dtype=np.int64)
    for block in range(start, stop):
        trees = min(BLOCK_TREES, data.n_estimators - block * BLOCK_TREES)
        seed = int(block_seed(data.seed, block).generate_state(1)[0])
        forest = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1)
        forest.fit(data.X_train, data.y_train)
        # Pure leaves: each tree votes 0 or 1 per class, so proba × trees is an exact count.
        votes += np.rint(forest.predict_proba(data.X_test) * trees).astype(np.int64)
    return votes


def verify(result: ForestResult, reference: ForestResult) -> Verdict:
    """Accept only the reference accuracy, exactly (same seed, same trees).

    Parameters
    ----------
    result, reference
        Answers of the point under test and of the serial run.

    Returns
    -------
    Verdict
    """
    if result.n_estimators != reference.n_estimators:
        return Verdict(
            False, f"{result.n_estimators} trees, reference has {reference.n_estimators}"
        )
    ok = result.accuracy == reference.accuracy
    return Verdict(ok, f"accuracy {result.accuracy!r} vs reference {reference.accuracy!r}")


WORKLOAD = Workload(
    name="randomforest",
    prepare=prepare,
    run=run,
    verify=verify,
    sizes=SIZES,
    reference_seconds=REFERENCE_SECONDS,
    description="RandomForestClassifier on load_digits, trees built through joblib",
    interface="joblib",
    weak_param="n_estimators",
    params_model=Params,
)

BLOCKS_WORKLOAD = Workload(
    name="randomforest.blocks",
    prepare=prepare,
    run=run_blocks,
    verify=verify,
    sizes=SIZES,
    reference_seconds=REFERENCE_SECONDS,
    description="the same number of trees grown as seeded blocks, one task per range of blocks",
    weak_param="n_estimators",
    params_model=Params,
    interface="blocks",
)

__all__ = ["BLOCKS_WORKLOAD", "WORKLOAD", "ForestData", "ForestResult", "block_votes",
           "prepare", "run", "run_blocks", "verify"]
