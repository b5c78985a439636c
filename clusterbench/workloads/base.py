"""The workload contract.

A workload is three functions and a table of sizes:

* ``prepare(size, seed, **params)`` builds the inputs (not timed);
* ``run(data, ctx)`` does the parallel work through the
  :class:`~clusterbench.runner.modes.ExecutionContext` and returns an answer;
* ``verify(result, reference)`` compares an answer with the serial reference
  (the same workload run under ``synchronous``) and returns a :class:`Verdict`.

It may declare the ``params`` a scenario can give (:attr:`Workload.params_model`), which
``run`` checks before any cluster starts.

Users plug in their own workload as ``package.module:attribute`` where the
attribute is a :class:`Workload` (see :func:`clusterbench.workloads.registry.resolve`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

SIZES = ("tiny", "quick", "small", "full")
#: Tasks per slot when work is split: 4 lets slow workers shed load to fast ones.
TASKS_PER_SLOT = 4


@dataclass(frozen=True)
class Verdict:
    """Outcome of comparing one answer with the serial reference."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Workload:
    """A benchmarkable computation.

    Parameters
    ----------
    name
        Registry name, e.g. ``"montecarlo"`` or ``"gridsearch.svc"``.
    prepare
        ``prepare(size: str, seed: int, **params) -> data``; builds inputs, not timed.
    run
        ``run(data, ctx) -> result``; the timed parallel computation.
    verify
        ``verify(result, reference) -> Verdict``.
    sizes
        ``{size: parameters}``; the parameters are passed to ``prepare``/recorded.
    description
        One line for reports.
    interface
        ``"dask"`` when ``run`` goes through ``ctx.compute``/``ctx.map``,
        ``"blocks"`` when it splits fixed blocks with ``ctx.block_ranges`` and maps them
        with ``ctx.map`` (a dask workload whose blocks ``distributed-capacity`` places
        by worker capacity), ``"joblib"`` when through ``ctx.joblib()``; joblib-only
        modes such as ``distributed-scatter`` are planned for joblib workloads only,
        ``distributed-capacity`` for block workloads only.
    baseline
        Another workload computing the same answer whose serial time is the fair
        reference (``gridsearch.pipeline-aware`` is measured against scikit-learn's
        serial ``gridsearch.pipeline``); None: its own serial run.
    weak_param
        The size parameter that grows in proportion to the workers' capacity in a
        weak-scaling sweep (``n_paths``, ``n_estimators``); None: the workload
        cannot scale weakly.
    reference_seconds
        ``{size: seconds}``: the serial time of each size on the project's 2-core
        development machine.  Only the sweep's first time estimate (before any point ran)
        uses it; a workload without it gets an estimate once its first repeats finish.
    params_model
        The ``params`` a scenario may give, as a
        :class:`~clusterbench.workloads.params.WorkloadParams` subclass (names and
        types); ``run`` refuses anything else before a cluster starts.  None (the
        default, e.g. a user's workload): any ``params`` are passed to ``prepare``.
    """

    name: str
    prepare: Callable[..., Any]
    run: Callable[[Any, Any], Any]
    verify: Callable[[Any, Any], Verdict]
    sizes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    description: str = ""
    interface: str = "dask"
    baseline: str | None = None
    weak_param: str | None = None
    params_model: type[BaseModel] | None = None
    reference_seconds: Mapping[str, float] = field(default_factory=dict)

    def params_problem(self, params: Mapping[Any, Any]) -> str | None:
        """What is wrong with a scenario's *params* for this workload (one line), or None;
        a workload without :attr:`params_model` accepts any."""
        if self.params_model is None:
            return None
        from clusterbench.workloads.params import params_problem

        return params_problem(self.params_model, params)

    def size_params(self, size: str) -> dict[str, Any]:
        """Parameters of *size*; unknown sizes raise ``KeyError`` with the valid ones."""
        if size not in self.sizes:
            raise KeyError(f"{self.name} has no size {size!r}; valid: {', '.join(self.sizes)}")
        return dict(self.sizes[size])


def plan_tasks(n_blocks: int, serial_seconds: float, slots: int, min_task_seconds: float,
               per_slot: int = TASKS_PER_SLOT) -> int:
    """Number of tasks: ``per_slot × slots`` unless that makes tasks shorter than allowed.

    Fewer than :data:`TASKS_PER_SLOT` per slot means the problem is too small for the
    point's workers; the runner records that (``metrics["problem_too_small"]``).

    Parameters
    ----------
    n_blocks
        Upper bound: a task holds at least one block.
    serial_seconds
        Estimated serial time of the whole computation.
    slots
        Tasks that can run at once (:attr:`ExecutionContext.slots`).
    min_task_seconds
        Smallest worthwhile task; ``0`` disables the bound.
    per_slot
        Tasks wanted per slot (more lets work stealing balance unequal workers).

    Returns
    -------
    int
        Between 1 and *n_blocks*.
    """
    wanted = per_slot * max(1, slots)
    if min_task_seconds > 0:
        wanted = min(wanted, int(serial_seconds // min_task_seconds))
    return max(1, min(n_blocks, wanted))


def block_ranges(n_blocks: int, n_tasks: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: *n_blocks* fixed blocks split into *n_tasks* contiguous,
    near-equal ranges (the task split never changes what a block computes); the split
    every mode but ``distributed-capacity`` uses (``ctx.block_ranges``)."""
    from clusterbench.runner.placement import equal_ranges

    return equal_ranges(n_blocks, n_tasks)


def block_seed(seed: int, block: int) -> Any:
    """``SeedSequence(seed, spawn_key=(block,))``: exactly ``SeedSequence(seed).spawn(block +
    1)[block]``, without building the list, so block *block* draws the same numbers
    however the blocks are grouped into tasks."""
    import numpy as np

    return np.random.SeedSequence(seed, spawn_key=(block,))
