"""Execution modes: how a workload's parallel work is executed at one sweep point.

A workload never knows which scheduler it runs under.  It receives an
:class:`ExecutionContext` and calls :meth:`ExecutionContext.compute` for dask
collections or enters :meth:`ExecutionContext.joblib` around scikit-learn code.
The context maps those two calls onto the scheduler of the point:

===================  ==========================  ======================================
mode                 dask collections            joblib (scikit-learn)
===================  ==========================  ======================================
synchronous          ``scheduler="synchronous"``  ``sequential``
threads              thread pool of k threads     ``threading``, n_jobs=k
processes            process pool of k processes  ``loky``, n_jobs=k
distributed          the cluster's client         ``dask``, on the k workers
distributed-capacity blocks by worker capacity    (same as distributed)
distributed-scatter  (same as distributed)        ``dask`` with the data pre-scattered
local-distributed    a local cluster's client     ``dask``, on k local workers
===================  ==========================  ======================================

``distributed-scatter`` exists for joblib workloads only: joblib's dask backend
otherwise scatters a large argument lazily to *one* worker, and the tasks then
queue where the data is (users-and-peers: "all fits ran on one worker");
pre-scattering broadcasts it to every worker first.  ``distributed-capacity`` exists
for workloads that split fixed blocks (:meth:`ExecutionContext.block_ranges`): each
worker gets blocks in proportion to its calibrated capacity, plus a tail that the
scheduler balances (:mod:`clusterbench.runner.placement`).  ``local-distributed`` is
a ``LocalCluster``-like cluster on this machine, for comparing an inventory's
cluster with the local one in the same run.

Pools are created once per point (:func:`open_mode`) so that their start-up is
not part of the timed figure.  The context also records what actually ran
(:attr:`ExecutionContext.executors`) and how many dask tasks were submitted
(:attr:`ExecutionContext.tasks`), which the report compares with the mode's
calibrated per-task overhead.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# The constants live in a leaf module so analysis/ and report/ need not import the runner;
# re-exported here because this is where callers have always found them.
from clusterbench.constants import BLAS_ENV as BLAS_ENV_VARS
from clusterbench.constants import (
    BLOCKS_ONLY_MODES,
    DEFAULT_MIN_TASK_SECONDS,
    DISTRIBUTED_MODES,
    JOBLIB_ONLY_MODES,
    MAX_OVERHEAD_SHARE,
    SCHEDULERS,
)
from clusterbench.runner.placement import (
    Placement,
    TailScheduler,
    capacity_placement,
    equal_ranges,
)

__all__ = [
    "BLOCKS_ONLY_MODES",
    "DEFAULT_MIN_TASK_SECONDS",
    "DISTRIBUTED_MODES",
    "JOBLIB_ONLY_MODES",
    "MAX_OVERHEAD_SHARE",
    "SCHEDULERS",
    "ExecutionContext",
    "blas_threads_for",
    "open_mode",
]


@dataclass
class ExecutionContext:
    """Where and how wide a workload runs at one sweep point.

    Parameters
    ----------
    scheduler
        One of :data:`SCHEDULERS`.
    workers
        Number of workers (threads, processes or dask workers) at this point.
    threads_per_worker
        Threads per worker (1 except for heterogeneous distributed clusters).
    client
        ``distributed.Client`` for the distributed scheduler, else ``None``.
    pool
        Executor reused by dask's local schedulers for this point.
    worker_addresses
        The exact workers of this point (distributed only).  Every other worker of the
        cluster is paused while the point runs, so tasks are not restricted to these;
        workloads use them to place shared data (e.g. a broadcast before a graph).
    blas_threads
        BLAS/OpenMP threads allowed per worker, recorded with every measurement.
    task_overhead
        Calibrated seconds of scheduling overhead per task in this mode, or None.
    serial_seconds
        Measured serial time of this point's workload and size on this machine (the
        sweep's serial reference), or None before it ran.
    worker_capacities
        Calibrated capacity of each worker of :attr:`worker_addresses` within this
        point's set (``distributed-capacity`` only; empty: unknown).
    """

    scheduler: str
    workers: int
    threads_per_worker: int = 1
    client: Any = None
    pool: Executor | None = None
    worker_addresses: tuple[str, ...] = ()
    blas_threads: int = 1
    task_overhead: float | None = None
    serial_seconds: float | None = None
    executors: set[str] = field(default_factory=set)
    tasks: int = 0
    worker_capacities: tuple[float, ...] = ()
    #: The last :meth:`block_ranges` split's placement, applied by :meth:`map`.
    placement: Placement | None = None
    #: Blocks placed on each worker address by the last placed :meth:`map` (recorded).
    placed_blocks: dict[str, int] = field(default_factory=dict)

    @property
    def slots(self) -> int:
        """Total number of tasks that can run at once."""
        return self.workers * self.threads_per_worker

    @property
    def is_distributed(self) -> bool:
        """True when the point runs on a distributed cluster."""
        return self.scheduler in DISTRIBUTED_MODES

    def min_task_seconds(self, share: float = MAX_OVERHEAD_SHARE) -> float:
        """Shortest task whose scheduling overhead stays below *share* of its compute.

        Workloads size their tasks with it; without a calibration it is
        :data:`DEFAULT_MIN_TASK_SECONDS`.
        """
        if self.task_overhead is None:
            return DEFAULT_MIN_TASK_SECONDS
        return self.task_overhead / share

    def serial_estimate(self, fallback: float) -> float:
        """The serial time to size tasks by: the measured serial reference, else *fallback*
        (a workload's estimate from the development machine).

        Task sizes compare this with :meth:`min_task_seconds`, which is measured on the
        cluster at hand; a fixed estimate against a measured overhead gave a machine
        three times slower a third of the tasks (tiny sizes ran on one worker).
        """
        measured = self.serial_seconds
        if measured is not None and math.isfinite(measured) and measured > 0:
            return measured
        return fallback

    def reset_counters(self) -> None:
        """Forget what earlier repeats ran (called before each timed repeat)."""
        self.executors.clear()
        self.tasks = 0
        self.placed_blocks = {}

    def prime(self) -> None:
        """Bring joblib's process pool to this point's width before the timer starts.

        loky's executor is shared and resized when ``n_jobs`` changes, which spawns
        processes; with interleaved points the width changes between repeats, and that
        start-up must not be timed.  A no-op for the other modes.
        """
        if self.scheduler != "processes":
            return
        from joblib import Parallel, delayed

        with self.joblib():
            Parallel()(delayed(os.getpid)() for _ in range(self.slots))

    def compute(self, *collections: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Compute dask collections/delayed objects under this point's scheduler."""
        import dask

        self.tasks += _task_count(collections)
        self.executors.add(f"dask {self.scheduler}")
        if self.is_distributed:
            # Fresh keys every call: otherwise the scheduler may still hold the previous
            # repeat's results under the same (deterministic) keys and hand them back
            # without computing anything — a timing of nothing.
            from dask.graph_manipulation import clone

            cloned = clone(*collections)
            collections = cloned if len(collections) > 1 else (cloned,)
            # No workers= restriction: the sweep pauses every worker outside the point's set
            # (runner.workerset.activate), and restricted tasks would bypass the scheduler's
            # queue, which is what hands tasks to whichever worker frees up first.
            futures = self.client.compute(list(collections), **kwargs)
            return tuple(self.client.gather(futures))
        if self.scheduler == "synchronous":
            return dask.compute(*collections, scheduler="synchronous", **kwargs)
        if self.scheduler == "processes":
            # dask batches 6 ready tasks per submission to a process by default, so a
            # point's 2-8 coarse tasks all landed in ONE process (README, "Measured here").
            # Workloads size their tasks themselves; one task per submission.
            kwargs.setdefault("chunksize", 1)
        return dask.compute(*collections, scheduler=self.scheduler, pool=self.pool,
                            num_workers=self.workers, **kwargs)

    def block_ranges(self, n_blocks: int, n_tasks: int) -> list[tuple[int, int]]:
        """Contiguous ranges of a workload's *n_blocks* fixed blocks, one task each.

        *n_tasks* near-equal ranges in every mode but ``distributed-capacity``, where the
        ranges follow the workers' capacities plus a balancing tail, and the next
        :meth:`map` over as many items places each on its worker
        (:func:`~clusterbench.runner.placement.capacity_placement`; equal ranges when the
        capacities are unknown).
        """
        self.placement = None
        if self.scheduler == "distributed-capacity":
            self.placement = capacity_placement(n_blocks, self.worker_addresses,
                                                self.worker_capacities, self.threads_per_worker)
            if self.placement is not None:
                return list(self.placement.ranges)
        return equal_ranges(n_blocks, n_tasks)

    def map(self, func: Any, items: Sequence[Any]) -> list[Any]:
        """Apply *func* to every item in parallel (one task per item) and return the results."""
        import dask

        placement, self.placement = self.placement, None
        if placement is not None and len(placement.ranges) == len(items) \
                and self.client is not None:
            return self._map_placed(func, items, placement)
        return list(self.compute(*[dask.delayed(func, pure=True)(item) for item in items]))

    def _map_placed(self, func: Any, items: Sequence[Any], placement: Placement) -> list[Any]:
        """One task per item: the placed ranges on their workers (a loose restriction),
        then the tail ranges, each submitted when a slot frees up to the slot that ends
        it first (:class:`~clusterbench.runner.placement.TailScheduler`).

        Why the tail is handed out here and not submitted at once: dask assigns tasks that
        are not "root-ish" (a few per thread are not) to workers up front, by an occupancy
        estimate that does not know one host is four times slower, so a slow worker held
        tail ranges in its own queue and ran them last, after the fast one had finished.
        Here a slot only gets the next range when it is free; the cost is one
        completion + submit round trip per tail range (milliseconds, against tail ranges
        of a tenth of a second or more).
        """
        from distributed import as_completed

        self.tasks += len(items)
        self.executors.add(f"dask {self.scheduler}")
        futures: dict[int, Any] = {}
        slot_of: dict[str, tuple[str, int]] = {}
        # Each placed range with its slot: (item index, (worker address, thread number)).
        placed: list[tuple[int, tuple[str, int]]] = []
        threads_seen: Counter[str] = Counter()
        for index, worker in enumerate(placement.workers):
            if worker is not None:
                placed.append((index, (worker, threads_seen[worker])))
                threads_seen[worker] += 1
        tail = TailScheduler(
            [(index, stop - start) for index, ((start, stop), worker)
             in enumerate(zip(placement.ranges, placement.workers, strict=True))
             if worker is None],
            {slot: placement.capacities.get(slot[0], 1.0) for _, slot in placed})

        def submit(index: int, slot: tuple[str, int]) -> Any:
            future = self.client.submit(func, items[index], pure=False, workers=[slot[0]],
                                        allow_other_workers=True)
            futures[index], slot_of[future.key] = future, slot
            return future

        now = time.perf_counter()
        for index, slot in placed:
            start, stop = placement.ranges[index]
            self.placed_blocks[slot[0]] = self.placed_blocks.get(slot[0], 0) + stop - start
            tail.start(slot, now, stop - start)
        running = as_completed([submit(index, slot) for index, slot in placed])
        for finished in running:
            for index, slot in tail.finish(slot_of[finished.key], time.perf_counter()):
                running.add(submit(index, slot))
        return list(self.client.gather([futures[i] for i in range(len(items))]))

    @contextlib.contextmanager
    def joblib(self, scatter: Sequence[Any] = ()) -> Iterator[None]:
        """Route joblib (and so scikit-learn's ``n_jobs``) to this point's scheduler.

        Parameters
        ----------
        scatter
            The large arguments the parallel calls share (e.g. ``X, y``).  Only the
            ``distributed-scatter`` mode uses them: they are broadcast to the
            workers before the first task, and joblib passes the futures instead
            (it matches arguments by identity, so pass the very objects the
            estimator will receive).
        """
        from joblib import parallel_config

        backend, options = self._joblib_backend(scatter)
        self.executors.add(f"joblib {backend}" + (" + scatter" if "scatter" in options else ""))
        with parallel_config(backend=backend, **options):
            yield

    def _joblib_backend(self, scatter: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        if self.scheduler == "synchronous":
            return "sequential", {}
        if self.scheduler == "threads":
            return "threading", {"n_jobs": self.slots}
        if self.scheduler == "processes":
            # Forests ask joblib to prefer threads; naming loky explicitly overrides that hint.
            return "loky", {"n_jobs": self.slots, "inner_max_num_threads": self.blas_threads}
        options = {"n_jobs": self.slots, "client": self.client}
        if self.scheduler == "distributed-scatter" and scatter:
            options["scatter"] = list(scatter)
        return "dask", options


def _task_count(collections: Sequence[Any]) -> int:
    """Distinct tasks of *collections*: the union of their graphs' keys (they may share a
    graph, as dask-ml's keys do)."""
    from dask.base import is_dask_collection

    graphs = {id(g): g for c in collections if is_dask_collection(c)
              for g in [c.__dask_graph__()]}
    return len(set().union(*(graph.keys() for graph in graphs.values()))) if graphs else 0


def blas_threads_for(slots: int, cores: int | None = None) -> int:
    """BLAS threads per worker so that ``slots × blas_threads <= cores`` (never below 1)."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, slots))


def _limit_blas(threads: int) -> None:
    """Process-pool initializer: cap BLAS/OpenMP threads in a worker process, and leave
    Ctrl-C to the parent (which shuts the pool down) instead of a traceback per process."""
    import signal

    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in BLAS_ENV_VARS:
        os.environ[name] = str(threads)
    threadpool_limits(threads)


@contextlib.contextmanager
def open_mode(
    scheduler: str,
    workers: int,
    *,
    client: Any = None,
    worker_addresses: Sequence[str] = (),
    threads_per_worker: int = 1,
    blas_threads: int | None = 1,
    cores: int | None = None,
    task_overhead: float | None = None,
    serial_seconds: float | None = None,
) -> Iterator[ExecutionContext]:
    """Create the pools/limits of one sweep point and yield its :class:`ExecutionContext`.

    *blas_threads* is the BLAS/OpenMP thread cap per worker thread; ``1`` (the
    default) makes "k workers" mean k cores, which keeps speedups honest;
    ``None`` means "auto": ``cores // (workers × threads)``.  The cap is applied
    with threadpoolctl in this process (synchronous, threads), in each pool
    process (processes) and through the worker environment (distributed, set
    at launch by the launchers).
    """
    from threadpoolctl import threadpool_limits

    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}")
    slots = workers * threads_per_worker
    blas = blas_threads if blas_threads is not None else blas_threads_for(slots, cores)
    ctx = ExecutionContext(
        scheduler=scheduler,
        workers=workers,
        threads_per_worker=threads_per_worker,
        client=client,
        worker_addresses=tuple(worker_addresses),
        blas_threads=blas,
        task_overhead=task_overhead,
        serial_seconds=serial_seconds,
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(threadpool_limits(blas))
        if scheduler == "threads":
            ctx.pool = stack.enter_context(ThreadPoolExecutor(workers))
        elif scheduler == "processes":
            ctx.pool = stack.enter_context(
                ProcessPoolExecutor(workers, initializer=_limit_blas, initargs=(blas,))
            )
            _prestart(ctx.pool, workers)
        yield ctx


def _prestart(pool: Executor, workers: int) -> None:
    """Spawn every pool process now: ProcessPoolExecutor starts them lazily, which would
    put interpreter start-up inside the first timed repeat."""
    for future in [pool.submit(os.getpid) for _ in range(workers)]:
        future.result()
