"""Run a planned sweep: prepare, reference, warm-up, timed repeats, verify, record.

Only ``workload.run`` is inside the timer.  Every repeat becomes a
:class:`~clusterbench.results.record.Record` appended (and flushed) as soon as
it finishes, so an interrupted run keeps everything it measured.

Order (``order_points``): ``interleaved`` (default) runs the repeats round-robin
over all points, every point's repeat 1, then every point's repeat 2, ..., each
round in an order shuffled by the run's seed, so slow drift of a shared machine
spreads over all points instead of landing on whichever point runs at the time
(asv's interleaved rounds, pyperf's worker processes).  ``blocked`` runs each
point's repeats back to back, as before.  A point is opened once (pools
started, warm-up run) on its first repeat and stays open for the whole sweep.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from clusterbench.analysis.stats import NOISY_CV as STATS_NOISY_CV
from clusterbench.analysis.stats import SampleStats
from clusterbench.errors import ClusterbenchError
from clusterbench.results.record import Record
from clusterbench.results.store import RunStore
from clusterbench.runner import workerset
from clusterbench.runner.backends import PointWorkers
from clusterbench.runner.deadline import (
    Deadline,
    DeadlineExceeded,
    SchedulerLost,
    cancel_client_work,
    kill_processes,
    repeat_deadline,
    run_guarded,
    scheduler_lost,
    warmup_deadline,
)
from clusterbench.runner.modes import DISTRIBUTED_MODES, open_mode
from clusterbench.runner.plan import Point, shuffled_round
from clusterbench.runner.profile import PointProfile, profile_path
from clusterbench.runner.scenario import Scenario, WorkloadChoice
from clusterbench.workloads.base import Verdict, Workload
from clusterbench.workloads.registry import resolve

Listener = Callable[[str, Any], None]
#: Fewer tasks than this per worker slot leaves workers idle at the end of a repeat
#: (and makes heterogeneous workers wait on the slowest): the record says so.
MIN_TASKS_PER_WORKER = 4
#: Coefficient of variation above which a point is noisy (and --stabilize re-runs it):
#: the analysis' threshold, so the sweep re-runs exactly the points the report flags.
NOISY_CV = STATS_NOISY_CV
#: Longest wait for a planned worker that is restarting before a repeat gives up on it.
LOST_WORKER_SECONDS = 60.0
#: Beyond that wait, what bringing up a point's workers (a few scheduler calls) may take.
ACTIVATE_GRACE_SECONDS = 5.0


@dataclass
class _Prepared:
    workload: Workload
    data: Any
    reference: Any
    setup_seconds: float
    reference_seconds: float = math.nan


@dataclass
class _Open:
    """A point that is ready to time: prepared data, its workers and its open context."""

    prepared: _Prepared
    workers: PointWorkers | None
    ctx: Any
    warmup: float
    stack: contextlib.ExitStack
    choice: WorkloadChoice
    scale: float = 1.0
    seconds: list[float] = field(default_factory=list)

    @property
    def noisy(self) -> bool:
        return bool(SampleStats.of(self.seconds).cv > NOISY_CV)  # NaN (n < 2): not noisy


@dataclass
class Sweep:
    """Executes points of one scenario and writes their records to *store*.

    Parameters
    ----------
    scenario
        The (narrowed) scenario: its ``repeats``, ``warmup``, ``seed``,
        ``order_points``, ``stabilize`` and ``retries`` drive the schedule.
    store
        The run directory.
    backends
        Mode → cluster backend (:mod:`clusterbench.runner.backends`) for the
        distributed modes.
    overheads
        Mode → calibrated seconds per task (:mod:`clusterbench.runner.calibrate`);
        workloads size their tasks from it and every record stores it with its
        task count, so the report can flag points whose tasks were too fine.
    listener
        ``listener(event, payload)`` for progress: ``"item"`` ((Point, round)) before each
        timed repeat, ``"record"`` (Record) after each, ``"extra"`` (Point) when a retry or
        a stabilizing repeat is added, ``"prepare"`` (workload name) before the serial
        reference, ``"checkpoint"`` ("middle") halfway through the planned repeats.
    checkpoint
        Called with ``"middle"`` once half of the planned repeats ran (the run measures
        the machine's capacity again there).
    capacity
        The calibrated :class:`~clusterbench.analysis.capacity.CapacityModel`; a weak-scaling
        sweep grows each point's problem by its capacity-weighted ideal.
    """

    scenario: Scenario
    store: RunStore
    backends: Mapping[str, Any] = field(default_factory=dict)
    overheads: Mapping[str, float] = field(default_factory=dict)
    listener: Listener = field(default=lambda event, payload: None)
    run_id: str = ""
    checkpoint: Callable[[str], None] = field(default=lambda at: None)
    capacity: Any = None
    _prepared: dict[WorkloadChoice, _Prepared] = field(default_factory=dict)
    _open: dict[Point, _Open | None] = field(default_factory=dict)
    _records: list[Record] = field(default_factory=list)
    _position: int = 0
    #: id(backend) → why its scheduler is gone (its points are not run any more).
    _gone: dict[int, str] = field(default_factory=dict)
    #: Points whose performance report ``--profile`` made (their first timed repeat).
    _profiled: set[Point] = field(default_factory=set)

    def run(self, points: list[Point]) -> list[Record]:
        """Execute every repeat of *points*; a failing point is recorded and the sweep goes on."""
        planned = len(points) * self.scenario.repeats
        with contextlib.ExitStack() as stack:
            stack.callback(self._close_all)
            previous = None
            for index, (point, round_index) in enumerate(self._schedule(points)):
                if index == planned // 2 and planned > 1:
                    self.listener("checkpoint", "middle")
                    self.checkpoint("middle")
                if self.scenario.order_points == "blocked" and previous not in (None, point):
                    self._close(previous)  # blocked: a point's pools go once it is done
                self._repeat(point, round_index)
                previous = point
            self._stabilize(points)
        return self._records

    def _schedule(self, points: list[Point]):  # noqa: ANN202 - a generator of (point, round)
        if self.scenario.order_points == "blocked":
            for point in points:
                for round_index in range(self.scenario.repeats):
                    yield point, round_index
                yield from self._stabilizing(point)
            return
        for round_index in range(self.scenario.repeats):
            for point in shuffled_round(points, self.scenario.seed, round_index):
                yield point, round_index

    def _stabilizing(self, point: Point):  # noqa: ANN202 - a generator of (point, round)
        """Blocked order: extra repeats of a noisy point right after its own repeats."""
        for extra in range(self.scenario.stabilize):
            opened = self._open.get(point)
            if opened is None or not opened.noisy:
                return
            self.listener("extra", point)
            yield point, self.scenario.repeats + extra

    def _stabilize(self, points: list[Point]) -> None:
        """Interleaved order: extra rounds over the points that are still noisy."""
        if self.scenario.order_points == "blocked":
            return
        for extra in range(self.scenario.stabilize):
            noisy = [p for p in points if (opened := self._open.get(p)) and opened.noisy]
            if not noisy:
                return
            round_index = self.scenario.repeats + extra
            for point in shuffled_round(noisy, self.scenario.seed, round_index):
                self.listener("extra", point)
                self._repeat(point, round_index)

    # --- one repeat -------------------------------------------------------------------------

    def _repeat(self, point: Point, round_index: int) -> None:
        """One timed repeat of *point*, re-run up to ``retries`` times if its worker set
        changed (a lost or restarted worker) once the planned set is back, or if it ran past
        its deadline.  Nothing runs (and nothing is recorded) once the point's scheduler is
        gone: the repeat that found it gone holds the reason."""
        if self._scheduler_gone(point):
            return
        opened = self._opened(point)
        if opened is None:
            return
        for attempt in range(1 + self.scenario.retries):
            self.listener("item", (point, round_index))
            record = self._attempt(point, opened, round_index, attempt)
            self._append(record)
            if record.counts:
                opened.seconds.append(record.seconds)
            again = record.worker_set_changed or bool(record.metrics.get("timed_out"))
            if (not again or attempt == self.scenario.retries or self._scheduler_gone(point)
                    or self._open.get(point) is None):
                return
            self.listener("extra", point)

    def _attempt(self, point: Point, opened: _Open, round_index: int, attempt: int) -> Record:
        workers = opened.workers
        client = self.backends[point.scheduler].client if workers else None
        facts = {"round": round_index, "attempt": attempt, "choice": opened.choice,
                 "scale": opened.scale}
        limit = self._deadline(opened)
        try:
            planned = self._guarded(client, lambda: self._resolve(client, workers),
                                    self._activation_deadline(), "bringing up its workers")
            return self._guarded(client, lambda: self._timed(point, opened, planned, facts,
                                                             limit),
                                 limit, f"repeat {round_index + 1}",
                                 cancel=lambda: _cancel_local(opened.ctx))
        except SchedulerLost as exc:
            return self._lost(point, exc, workers, facts)
        except DeadlineExceeded as exc:
            return self._overdue(point, exc, client, workers, facts)
        except ClusterbenchError as exc:
            return self._failure(point, str(exc), workers, **facts)
        except Exception as exc:  # a crashing workload is a failed repeat, not a dead run
            if (lost := scheduler_lost(client)) is not None:  # before asking it anything
                return self._lost(point, lost, workers, facts)
            changed = self._set_changed(client, workers)
            if changed:
                return self._failure(point, f"{type(exc).__name__}: {exc}", workers,
                                     worker_set_changed=True, worker_set_note=changed, **facts)
            self._close(point, failed=True)
            return self._failure(point, f"{type(exc).__name__}: {exc}", workers, **facts)

    def _resolve(self, client: Any, workers: PointWorkers | None) -> dict[str, str] | None:
        """The planned workers' addresses right now (following restarted workers by name),
        with every other worker paused: the scheduler sees exactly the point's workers."""
        if workers is None:
            return None
        return workerset.activate(client, workers.names, min(LOST_WORKER_SECONDS,
                                                             self.scenario.timeout))

    # --- deadlines and a lost scheduler (runner.deadline) -----------------------------------

    def _deadline(self, opened: _Open) -> Deadline:
        """This repeat's deadline: from the serial reference, the point's warm-up and its
        slowest repeat so far, capped by the scenario's timeout."""
        warmups = self.scenario.warmup
        if not warmups and not opened.seconds:  # no warm-up: the first repeat pays the imports
            return warmup_deadline(self.scenario.timeout, opened.prepared.reference_seconds, 1)
        return repeat_deadline(self.scenario.timeout, opened.prepared.reference_seconds,
                               opened.warmup / warmups if warmups else math.nan,
                               max(opened.seconds, default=math.nan))

    def _activation_deadline(self) -> Deadline:
        wait = min(LOST_WORKER_SECONDS, self.scenario.timeout)
        return Deadline(wait + ACTIVATE_GRACE_SECONDS,
                        f"{wait:g} s for a restarting worker + {ACTIVATE_GRACE_SECONDS:g} s")

    def _guarded(self, client: Any, work: Callable[[], Any], limit: Deadline, what: str,
                 cancel: Callable[[], None] = lambda: None) -> Any:
        """*work* under *limit*; a scheduler found gone meanwhile ends it at once."""
        if client is None:
            return run_guarded(work, limit, what, cancel)
        return run_guarded(work, limit, what, cancel, lost=lambda: scheduler_lost(client))

    def _overdue(self, point: Point, exc: DeadlineExceeded, client: Any,
                 workers: PointWorkers | None, facts: dict[str, Any]) -> Record:
        """The failed record of a repeat past its deadline.  A scheduler that does not
        answer is a lost scheduler; workers that stopped sending heartbeats (a cut link, a
        host throttled to nothing) are taken off the scheduler, so that the next points run
        on the workers that remain.  A local point's pool is unusable afterwards: closed."""
        message = str(exc)
        if client is not None:
            if (lost := scheduler_lost(client, probe=True)) is not None:
                return self._lost(point, lost, workers, facts)
            silent = ""
            with contextlib.suppress(Exception):  # a note only: the record is failed anyway
                silent = workerset.drop_silent(client)
            message += f"; {silent}" if silent else ""
        else:
            self._close(point, failed=True, abandon=point.scheduler != "processes")
        return self._failure(point, message, workers, **facts,
                             metrics={"deadline_s": exc.deadline.seconds, "timed_out": True})

    def _lost(self, point: Point, exc: SchedulerLost, workers: PointWorkers | None,
              facts: dict[str, Any]) -> Record:
        """The failed record of the repeat that found the scheduler gone; every later
        repeat of the same cluster is skipped (:meth:`_scheduler_gone`)."""
        backend = self.backends[point.scheduler]
        if id(backend) not in self._gone:
            self._gone[id(backend)] = str(exc)
            backend.lost = str(exc)
            # Closing ends the client's 30-60 s reconnect loop, which then logs its own
            # cancellation as a traceback: nothing it could say adds to the one line.
            # tornado.application: the cluster object's own background reconnects.
            for name in ("distributed.client", "distributed.utils", "tornado.application",
                         "distributed.deploy.spec"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            with contextlib.suppress(Exception):
                backend.client.close(timeout=2)
        # marked: a resume runs this repeat again on a fresh cluster (runner.resume)
        return self._failure(point, str(exc), workers, **facts, metrics={"scheduler_lost": True})

    def _scheduler_gone(self, point: Point) -> bool:
        backend = self.backends.get(point.scheduler)
        return point.scheduler in DISTRIBUTED_MODES and id(backend) in self._gone

    def _set_changed(self, client: Any, workers: PointWorkers | None) -> str:
        if workers is None:
            return ""
        try:
            now = workerset.current_workers(client)
        except Exception:  # the scheduler itself is gone: not a worker-set question
            return ""
        lost = [n for n, a in zip(workers.names, workers.addresses, strict=True)
                if now.get(n) != a]
        return f"{', '.join(lost)} lost or restarted during the repeat" if lost else ""

    def _timed(self, point: Point, opened: _Open, planned: dict[str, str] | None,
               facts: dict[str, Any], limit: Deadline) -> Record:
        from threadpoolctl import threadpool_limits

        prepared, ctx, workers = opened.prepared, opened.ctx, opened.workers
        client = self.backends[point.scheduler].client if workers else None
        if planned is not None:
            assert workers is not None, "only distributed points have planned addresses"
            ctx.worker_addresses = tuple(planned[name] for name in workers.names)
            if point.scheduler == "distributed-capacity" and self.capacity is not None:
                ctx.worker_capacities = tuple(self.capacity.shares(workers.names))
            cursor = workerset.task_cursor(client)
        with threadpool_limits(ctx.blas_threads), self._profile(point, client):
            if prepared.workload.interface == "joblib":
                ctx.prime()
            ctx.reset_counters()
            start = time.perf_counter()
            result = prepared.workload.run(prepared.data, ctx)
            seconds = time.perf_counter() - start
        execution, activity = None, {}
        if planned is not None:
            entries = workerset.task_stream(client, cursor)
            execution = workerset.judge(planned, workerset.current_workers(client),
                                        workerset.addresses_of(entries))
            activity = workerset.worker_activity(entries, planned)
        verdict = _verify(prepared.workload, result, prepared.reference)
        metrics = (dict(getattr(result, "metrics", None) or {}) | _execution_facts(ctx, execution)
                   | {"deadline_s": limit.seconds})
        if ctx.placed_blocks and planned:  # distributed-capacity: blocks placed per worker
            names = {address: name for name, address in planned.items()}
            metrics["placed_blocks"] = {names.get(a, a): n for a, n in ctx.placed_blocks.items()}
        return self._record(
            point, seconds=seconds, verified=verdict.ok,
            error=None if verdict.ok else "verification failed", detail=verdict.detail,
            workers=workers, blas=ctx.blas_threads, warmup=opened.warmup,
            setup=prepared.setup_seconds + (workers.setup_seconds if workers else 0.0),
            metrics=metrics,
            executed_workers=execution.executed if execution else (),
            worker_set_changed=bool(execution and execution.changed),
            worker_set_note=execution.note if execution else "",
            worker_activity=activity,
            **facts,
        )

    def _profile(self, point: Point, client: Any) -> contextlib.AbstractContextManager:
        """``--profile``: a performance report of a cluster point's first timed repeat
        (:mod:`clusterbench.runner.profile`); nothing for other repeats and modes."""
        if not self.scenario.profile or client is None or point in self._profiled:
            return contextlib.nullcontext()
        self._profiled.add(point)
        return PointProfile(client, profile_path(self.store.directory, point.workload.name,
                                                 point.workload.size, point.scheduler,
                                                 point.workers))

    # --- opening and closing points ---------------------------------------------------------

    def _opened(self, point: Point) -> _Open | None:
        """The point's open state, opening it (prepare, workers, pools, warm-up) on first use;
        None once it failed to open (recorded then)."""
        if point not in self._open:
            self._open[point] = self._open_point(point)
        return self._open[point]

    def _open_point(self, point: Point) -> _Open | None:
        workers = None
        try:
            workers = self._workers(point)
            choice, scale = self._scaled(point, workers)
            prepared = self._prepare(choice)
            stack = contextlib.ExitStack()
            options = self._mode_options(point.scheduler, workers) | {
                "serial_seconds": prepared.reference_seconds}  # sizes the tasks
            ctx = stack.enter_context(open_mode(point.scheduler, point.workers, **options))
        except ClusterbenchError as exc:
            self._append(self._failure(point, str(exc), workers))
            return None
        client = options.get("client")
        try:
            limit = warmup_deadline(self.scenario.timeout, prepared.reference_seconds,
                                    self.scenario.warmup)
            warmup = self._guarded(client, lambda: self._warm_up(prepared, ctx), limit,
                                   "the warm-up", cancel=lambda: _cancel_local(ctx))
            return _Open(prepared, workers, ctx, warmup, stack, choice, scale)
        except SchedulerLost as exc:
            stack.close()
            self._append(self._lost(point, exc, workers, {}))
        except Exception as exc:  # a workload crashing in its warm-up: a failed point
            if (lost := scheduler_lost(client)) is not None:
                stack.close()
                self._append(self._lost(point, lost, workers, {}))
                return None
            if not (isinstance(exc, DeadlineExceeded) and point.scheduler == "threads"):
                stack.close()  # a thread stuck in an overdue warm-up cannot be waited for
            message = str(exc) if isinstance(exc, ClusterbenchError) else \
                f"{type(exc).__name__}: {exc}"
            self._append(self._failure(point, message, workers))
        return None

    def _scaled(self, point: Point, workers: PointWorkers | None
                ) -> tuple[WorkloadChoice, float]:
        """Weak scaling: the point's workload with its ``weak_param`` multiplied by the
        capacity-weighted ideal of its workers (the worker count where that is unknown);
        the scale actually applied is returned with it."""
        choice = point.workload
        if self.scenario.scaling != "weak" or point.scheduler == "synchronous":
            return choice, 1.0
        workload = resolve(choice.name)
        param = workload.weak_param
        assert param is not None, "run refuses weak scaling of a workload without weak_param"
        base = (workload.size_params(choice.size) | dict(choice.params))[param]
        ideal = self._ideal(point, workers)
        value = max(1, round(base * (ideal if ideal == ideal else point.workers)))  # NaN check
        params = tuple(sorted((dict(choice.params) | {param: value}).items()))
        return dataclasses.replace(choice, params=params), value / base

    def _ideal(self, point: Point, workers: PointWorkers | None) -> float:
        if self.capacity is None:
            return float("nan")
        reference = (self.backends[point.scheduler].workers_for(1).names if workers else ())
        return self.capacity.ideal(point.scheduler, point.workers,
                                   workers.names if workers else (), reference)

    def _warm_up(self, prepared: _Prepared, ctx: Any) -> float:
        start = time.perf_counter()
        for _ in range(self.scenario.warmup):
            prepared.workload.run(prepared.data, ctx)
        return time.perf_counter() - start

    def _close(self, point: Point, failed: bool = False, abandon: bool = False) -> None:
        """Close *point*'s pools; *abandon* leaves a thread pool whose thread is stuck in
        an overdue repeat unclosed (closing it would wait for that thread)."""
        opened = self._open.get(point)
        if opened is not None:
            if not abandon:
                opened.stack.close()
            if failed:
                self._open[point] = None

    def _close_all(self) -> None:
        for point in list(self._open):
            self._close(point)

    def _prepare(self, choice: WorkloadChoice) -> _Prepared:
        if choice not in self._prepared:
            self.listener("prepare", choice.name)
            workload = resolve(choice.name)
            start = time.perf_counter()
            try:
                data = workload.prepare(choice.size, self.scenario.seed, **dict(choice.params))
                with open_mode("synchronous", 1, blas_threads=self.scenario.blas_threads) as ctx:
                    started = time.perf_counter()  # the serial time: basis of every deadline
                    reference = workload.run(data, ctx)
                    serial = time.perf_counter() - started
            except ClusterbenchError:
                raise
            except (Exception, SystemExit) as exc:  # prepare refused, or the workload
                # exited: a failed point (recorded by _open_point), not the end of the sweep
                raise ClusterbenchError(f"preparing the inputs or the serial reference "
                                        f"failed: {type(exc).__name__}: {exc}") from exc
            self._prepared[choice] = _Prepared(workload, data, reference,
                                               time.perf_counter() - start, serial)
        return self._prepared[choice]

    def _workers(self, point: Point) -> PointWorkers | None:
        if point.scheduler not in DISTRIBUTED_MODES:
            return None
        if point.scheduler not in self.backends:
            raise ClusterbenchError(f"no cluster for the {point.scheduler} mode")
        return self.backends[point.scheduler].workers_for(point.workers)

    def _mode_options(self, mode: str, workers: PointWorkers | None) -> dict[str, Any]:
        options: dict[str, Any] = {"blas_threads": self.scenario.blas_threads,
                                   "task_overhead": self.overheads.get(mode)}
        if workers is not None:
            options |= {"client": self.backends[mode].client,
                        "worker_addresses": workers.addresses,
                        "threads_per_worker": workers.threads}
        return options

    # --- records ----------------------------------------------------------------------------

    def _append(self, record: Record) -> None:
        self.store.append(record)
        self._records.append(record)
        self.listener("record", record)

    def _failure(self, point: Point, message: str, workers: PointWorkers | None = None,
                 **fields: Any) -> Record:
        fields.setdefault("round", 0)
        return self._record(point, seconds=float("nan"), verified=False,
                            error=message.splitlines()[0] if message else "failed",
                            detail=message, workers=workers, **fields)

    def _record(self, point: Point, *, workers: PointWorkers | None, blas: int | None = None,
                warmup: float = 0.0, setup: float = 0.0, metrics: dict | None = None,
                choice: WorkloadChoice | None = None, **fields: Any) -> Record:
        workload = choice or point.workload
        prepared = self._prepared.get(workload)
        self._position += 1
        return Record(
            baseline=prepared.workload.baseline if prepared else None,
            run_id=self.run_id, workload=workload.name, size=workload.size,
            scheduler=point.scheduler, workers=point.workers,
            repeat=fields.get("round", 0),
            position=self._position, order_points=self.scenario.order_points,
            threads_per_worker=workers.threads if workers else 1,
            blas_threads=blas if blas is not None else (self.scenario.blas_threads or 0),
            worker_names=workers.names if workers else (),
            worker_hosts=workers.hosts if workers else (),
            worker_addresses=workers.addresses if workers else (),
            setup_seconds=setup, warmup_seconds=warmup,
            params=_params_of(workload, prepared),
            metrics=metrics or {}, scaling=self.scenario.scaling,
            timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **fields,
        )


def _cancel_local(ctx: Any) -> None:
    """Make overdue work under *ctx* give up: cancel its client's futures, or kill its pool's
    processes (a thread cannot be stopped: that point is abandoned, see ``Sweep._overdue``)."""
    if ctx.client is not None:
        cancel_client_work(ctx.client)
    elif ctx.scheduler == "processes":
        kill_processes(list(getattr(ctx.pool, "_processes", {}).values()))
        _kill_loky()


def _kill_loky() -> None:
    """joblib workloads in processes mode run in loky's shared executor, not the point's
    pool: stop its processes too (the next joblib call starts new ones)."""
    with contextlib.suppress(Exception):
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor  # None when no joblib call started one
        if executor is not None:
            executor.shutdown(wait=False, kill_workers=True)


def _execution_facts(ctx: Any, execution: workerset.Execution | None) -> dict[str, Any]:
    """What ran (e.g. ``joblib loky``), how many tasks, the mode's task overhead, and
    whether the problem was too small for the point's workers."""
    facts: dict[str, Any] = {"executor": ", ".join(sorted(ctx.executors)) or "none"}
    tasks = ctx.tasks or (execution.tasks if execution else 0)
    if tasks:
        facts["tasks"] = tasks
        if tasks < MIN_TASKS_PER_WORKER * ctx.slots:
            facts["problem_too_small"] = (f"{tasks} tasks for {ctx.slots} worker slot(s), "
                                          f"fewer than {MIN_TASKS_PER_WORKER} per worker")
    if ctx.task_overhead is not None:
        facts["task_overhead_s"] = ctx.task_overhead
    return facts


def _verify(workload: Workload, result: Any, reference: Any) -> Verdict:
    try:
        verdict = workload.verify(result, reference)
    except Exception as exc:  # a verify that crashes is a failed verification, loudly
        return Verdict(False, f"verify raised {type(exc).__name__}: {exc}")
    return verdict if isinstance(verdict, Verdict) else Verdict(bool(verdict))


def _params_of(choice: WorkloadChoice, prepared: _Prepared | None) -> dict[str, Any]:
    if prepared is None:
        return dict(choice.params)
    try:
        return prepared.workload.size_params(choice.size) | dict(choice.params)
    except KeyError:
        return dict(choice.params)


__all__ = ["MIN_TASKS_PER_WORKER", "NOISY_CV", "Sweep"]
