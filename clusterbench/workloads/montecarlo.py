r"""Monte Carlo price of an arithmetic-average Asian call on daily random walks.

The workload as published in the source write-up: ``s0=100, K=100, mu=0.02,
sigma=0.2, days=365*4``, 10,000 paths.  Each path is a geometric Brownian
motion sampled once a day with the exact log-normal step

.. math:: S_{i+1} = S_i \exp\big((\mu - \sigma^2/2)\,\Delta + \sigma\sqrt{\Delta}\,Z_i\big),
   \quad \Delta = 1/365,

the payoff is ``max(mean(S_1..S_N) - K, 0)`` (the average excludes ``S_0``)
discounted by ``exp(-mu T)`` with ``T = N/365`` years, ``mu`` acting as the
risk-free rate (risk-neutral pricing; Glasserman, *Monte Carlo Methods in
Financial Engineering*, 2004, ch. 1 and §3.2).  The price is the sample mean
of the discounted payoffs and the standard error their sample standard
deviation over ``sqrt(n_paths)``.

Two kernels price a block of paths.  ``python`` (the default) walks each path
day by day in pure Python, as the source write-up did: about 0.5-0.8 ms per
path here, GIL-bound, so threads cannot speed it up while processes and
dask workers can — the contrast the scheduler comparison is about.
``numpy`` draws a block's whole walk at once (about 15x faster; BLAS-free
elementwise work that releases the GIL).

Granularity and determinism: paths are generated in fixed blocks of
:data:`BLOCK_PATHS`, block ``b`` drawing from ``SeedSequence(seed).spawn(n)[b]``,
so the random numbers never depend on how blocks are grouped into tasks.  A
task prices a contiguous range of blocks; :func:`plan_tasks` picks the number
of tasks from the point's slots and from the smallest worthwhile task, which
comes from the mode's calibrated per-task overhead
(:meth:`ExecutionContext.min_task_seconds`: overhead below 2 % of compute), set
against the serial time measured by the sweep's reference run
(:meth:`ExecutionContext.serial_estimate`).
The payoffs are concatenated in block order before the reduction, so price
and standard error are bit-identical under every scheduler and worker count.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt, field_validator

from clusterbench.workloads.base import (
    TASKS_PER_SLOT,
    Verdict,
    Workload,
    block_seed,
    plan_tasks,
)
from clusterbench.workloads.params import WorkloadParams

BLOCK_PATHS = 25
PAYOFF_BYTES = 8  # one float64 per path
KERNELS = ("python", "numpy")
# Serial cost of one path-day on the idle 2-core dev machine: pure Python 1,000 paths x 1460
# days in 0.80 s (0.55 us); numpy 10,000 paths in 0.54 s (37 ns).  Only the serial reference's
# own tasks are sized by it: every other point uses that reference's measured time
# (ExecutionContext.serial_estimate), so a slower machine gets as many tasks as this one.
SECONDS_PER_PATH_DAY = {"python": 0.55e-6, "numpy": 40e-9}

# Serial seconds on the 2-core dev machine (python kernel; the second figure with the cores
# shared with other jobs):
#   tiny     400 paths x 1460 days  0.3 s / 0.6 s
#   quick  2,000 paths x 1460 days  1.8 s  (the default scenario's size: a first run in <3 min)
#   small  4,000 paths x 1460 days  3.2 s / 6 s
#   full  10,000 paths x 1460 days  8 s / 15 s  (the published size; the source's serial
#                                   run took 2 min 49 s on its machine)
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"n_paths": 400, "days": 365 * 4},
    "quick": {"n_paths": 2_000, "days": 365 * 4},
    "small": {"n_paths": 4_000, "days": 365 * 4},
    "full": {"n_paths": 10_000, "days": 365 * 4},
}
# The same figures for the sweep's first time estimate (runner.eta).
REFERENCE_SECONDS = {"tiny": 0.3, "quick": 1.8, "small": 3.2, "full": 8.0}


@dataclass(frozen=True)
class AsianCall:
    """Contract and market of the option (defaults: the published workload)."""

    s0: float = 100.0
    strike: float = 100.0
    mu: float = 0.02
    sigma: float = 0.2
    days: int = 365 * 4
    days_per_year: int = 365

    @property
    def maturity(self) -> float:
        """Time to expiry ``T`` in years."""
        return self.days / self.days_per_year


class Params(WorkloadParams):
    """The ``params`` a scenario may give (see :func:`prepare`); a size's own values and the
    :class:`AsianCall` defaults fill in the rest."""

    n_paths: PositiveInt
    days: PositiveInt
    block_paths: PositiveInt
    kernel: Literal["python", "numpy"]
    min_task_seconds: NonNegativeFloat | None
    tasks_per_worker: PositiveInt
    s0: PositiveFloat
    strike: NonNegativeFloat
    mu: float
    sigma: NonNegativeFloat
    days_per_year: PositiveInt

    @field_validator("n_paths")
    @classmethod
    def _payoffs_fit_in_memory(cls, n_paths: int) -> int:
        """Every path's payoff comes back to this machine (8 bytes each, concatenated in
        block order): more than its memory fails every point with a MemoryError after the
        cluster started, so it is refused before."""
        import psutil

        need, have = n_paths * PAYOFF_BYTES, psutil.virtual_memory().total
        if need > have:
            raise ValueError(f"the payoffs of {n_paths:,} paths ({PAYOFF_BYTES} bytes each) "
                             f"come back to this machine: {_gigabytes(need)}, more than its "
                             f"{_gigabytes(have)} of memory")
        return n_paths


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:,.1f} GB"


@dataclass(frozen=True)
class MonteCarloData:
    """Inputs of one pricing run: everything a task needs, nothing large."""

    option: AsianCall
    n_paths: int
    seed: int
    block_paths: int = BLOCK_PATHS
    kernel: str = "python"
    min_task_seconds: float | None = None  # None: from the mode's calibrated overhead
    tasks_per_worker: int = TASKS_PER_SLOT

    @property
    def n_blocks(self) -> int:
        """Number of fixed-size path blocks (the last one may be short)."""
        return math.ceil(self.n_paths / self.block_paths)

    @property
    def estimated_seconds(self) -> float:
        """Serial time predicted from :data:`SECONDS_PER_PATH_DAY`."""
        return self.n_paths * self.option.days * SECONDS_PER_PATH_DAY[self.kernel]


@dataclass(frozen=True)
class MonteCarloResult:
    """Price estimate with its standard error and how the work was split."""

    price: float
    stderr: float
    n_paths: int
    n_tasks: int
    paths_per_task: int

    @property
    def metrics(self) -> dict[str, int]:
        """Execution facts the runner stores with the measurement."""
        return {"n_tasks": self.n_tasks, "paths_per_task": self.paths_per_task}


def prepare(size: str, seed: int, **params: Any) -> MonteCarloData:
    """Build the inputs of *size*; *params* override the size table and option fields.

    Parameters
    ----------
    size
        ``"tiny"``, ``"small"`` or ``"full"``.
    seed
        Root of the per-block :class:`numpy.random.SeedSequence`.
    **params
        ``n_paths``, ``days``, ``block_paths``, ``kernel`` (``python``/``numpy``),
        ``min_task_seconds``, ``tasks_per_worker`` (default 4) or any :class:`AsianCall`
        field (``s0``, ``strike``, ``mu``, ``sigma``).

    Returns
    -------
    MonteCarloData

    Raises
    ------
    ValueError
        For an unknown kernel.
    """
    merged = {**SIZES[size], **params}
    if merged.get("kernel", "python") not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {merged['kernel']!r}")
    tasks = merged.get("tasks_per_worker", TASKS_PER_SLOT)
    if isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1:
        raise ValueError(f"tasks_per_worker must be a positive integer, got {tasks!r}")
    option_fields = {k: merged.pop(k) for k in list(merged) if k in AsianCall.__dataclass_fields__}
    return MonteCarloData(option=AsianCall(**option_fields), seed=seed, **merged)


def block_payoffs(
    option: AsianCall, seed: int, block: int, n_paths: int, kernel: str = "python"
) -> np.ndarray:
    """Discounted payoffs of the *n_paths* paths of block number *block*."""
    if kernel == "python":
        return _python_payoffs(option, block_seed(seed, block), n_paths)
    return _numpy_payoffs(option, block_seed(seed, block), n_paths)


def _python_payoffs(option: AsianCall, seeds: np.random.SeedSequence, n_paths: int) -> np.ndarray:
    """The source write-up's day-by-day loop, in pure Python on purpose (see module docstring)."""
    rng = random.Random(int.from_bytes(seeds.generate_state(4).tobytes(), "little"))
    dt = 1.0 / option.days_per_year
    drift = (option.mu - 0.5 * option.sigma**2) * dt
    vol = option.sigma * math.sqrt(dt)
    gauss, exp = rng.gauss, math.exp
    payoffs = np.empty(n_paths)
    for path in range(n_paths):
        price, total = option.s0, 0.0
        for _ in range(option.days):
            price *= exp(drift + vol * gauss(0.0, 1.0))
            total += price
        payoffs[path] = max(total / option.days - option.strike, 0.0)
    return payoffs * math.exp(-option.mu * option.maturity)


def _numpy_payoffs(option: AsianCall, seeds: np.random.SeedSequence, n_paths: int) -> np.ndarray:
    rng = np.random.default_rng(seeds)
    dt = 1.0 / option.days_per_year
    steps = rng.standard_normal((n_paths, option.days))
    steps *= option.sigma * math.sqrt(dt)
    steps += (option.mu - 0.5 * option.sigma**2) * dt
    prices = option.s0 * np.exp(np.cumsum(steps, axis=1))
    average = prices.mean(axis=1)
    return np.maximum(average - option.strike, 0.0) * math.exp(-option.mu * option.maturity)


def price_blocks(task: tuple[MonteCarloData, int, int]) -> np.ndarray:
    """One task: the payoffs of blocks ``start..stop-1`` of *data*, in block order."""
    data, start, stop = task
    return np.concatenate(
        [
            block_payoffs(
                data.option,
                data.seed,
                block,
                min(data.block_paths, data.n_paths - block * data.block_paths),
                data.kernel,
            )
            for block in range(start, stop)
        ]
    )


def run(data: MonteCarloData, ctx: Any) -> MonteCarloResult:
    """Price the option with one task per contiguous range of blocks.

    Parameters
    ----------
    data
        From :func:`prepare`.
    ctx
        The point's :class:`~clusterbench.runner.modes.ExecutionContext`.

    Returns
    -------
    MonteCarloResult
    """
    shortest = data.min_task_seconds
    if shortest is None:
        shortest = ctx.min_task_seconds()
    n_tasks = plan_tasks(data.n_blocks, ctx.serial_estimate(data.estimated_seconds),
                         ctx.slots, shortest, data.tasks_per_worker)
    # Equal ranges, or by worker capacity under distributed-capacity (same blocks, same answer).
    ranges = ctx.block_ranges(data.n_blocks, n_tasks)
    payoffs = np.concatenate(ctx.map(price_blocks, [(data, *r) for r in ranges]))
    widest = max(stop - start for start, stop in ranges) * data.block_paths
    return MonteCarloResult(
        price=float(payoffs.mean()),
        stderr=float(payoffs.std(ddof=1) / math.sqrt(payoffs.size)),
        n_paths=int(payoffs.size),
        n_tasks=len(ranges),
        paths_per_task=min(widest, data.n_paths),
    )


def verify(result: MonteCarloResult, reference: MonteCarloResult) -> Verdict:
    """Accept a price within 3 reference standard errors computed from as many paths.

    Parameters
    ----------
    result, reference
        Answers of the point under test and of the serial run.

    Returns
    -------
    Verdict
    """
    if result.n_paths != reference.n_paths:
        return Verdict(False, f"{result.n_paths} paths, reference has {reference.n_paths}")
    gap = abs(result.price - reference.price)
    limit = 3 * reference.stderr
    ok = gap <= limit
    relation = "<=" if ok else ">"
    detail = f"price {result.price:.6f} vs {reference.price:.6f}: |diff| {gap:.2e} {relation} 3 SE"
    return Verdict(ok, detail)


WORKLOAD = Workload(
    name="montecarlo",
    prepare=prepare,
    run=run,
    verify=verify,
    sizes=SIZES,
    reference_seconds=REFERENCE_SECONDS,
    description="Asian call priced on daily GBM paths (pure-Python walk, blocks of paths per task)",
    weak_param="n_paths",
    params_model=Params,
    interface="blocks",
)

__all__ = [
    "WORKLOAD",
    "AsianCall",
    "MonteCarloData",
    "MonteCarloResult",
    "block_payoffs",
    "block_seed",
    "plan_tasks",
    "prepare",
    "price_blocks",
    "run",
    "verify",
]
