"""Run a planned sweep: prepare, reference, warm-up, timed repeats, verify, record.

Only ``workload.run`` is inside the timer.  Every repeat becomes a
:class:`~clusterbench.results.record.Record` appended (and flushed) as soon as
it finishes, so an interrupted run keeps everything it measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from clusterbench.errors import ClusterbenchError
from clusterbench.results.record import Record
from clusterbench.results.store import RunStore
from clusterbench.runner.backends import PointWorkers
from clusterbench.runner.modes import DISTRIBUTED_MODES, open_mode
from clusterbench.runner.plan import Point
from clusterbench.runner.scenario import Scenario, WorkloadChoice
from clusterbench.workloads.base import Verdict, Workload
from clusterbench.workloads.registry import resolve

Listener = Callable[[str, Any], None]


@dataclass
class _Prepared:
    workload: Workload
    data: Any
    reference: Any
    setup_seconds: float


@dataclass
class Sweep:
    """Executes points of one scenario and writes their records to *store*.

    Parameters
    ----------
    scenario
        The (narrowed) scenario.
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
        ``listener(event, payload)`` for progress: ``"point"`` (Point) before each
        point, ``"record"`` (Record) after each repeat, ``"done"`` (its records)
        after each point, ``"prepare"`` (workload name) before the serial reference.
    """

    scenario: Scenario
    store: RunStore
    backends: Mapping[str, Any] = field(default_factory=dict)
    overheads: Mapping[str, float] = field(default_factory=dict)
    listener: Listener = field(default=lambda event, payload: None)
    run_id: str = ""
    _prepared: dict[WorkloadChoice, _Prepared] = field(default_factory=dict)

    def run(self, points: list[Point]) -> list[Record]:
        """Execute *points* in order; a failing point is recorded and the sweep goes on."""
        records: list[Record] = []
        for point in points:
            self.listener("point", point)
            point_records = self.run_point(point)
            self.listener("done", point_records)
            records.extend(point_records)
        return records

    def run_point(self, point: Point) -> list[Record]:
        """Warm up and time one point; never raises for a workload/cluster failure."""
        try:
            prepared = self._prepare(point.workload)
            workers = self._workers(point)
        except ClusterbenchError as exc:
            return [self._failure(point, str(exc))]
        try:
            return self._measure(point, prepared, workers)
        except Exception as exc:  # a crashing workload is a failed point, not a dead run
            return [self._failure(point, f"{type(exc).__name__}: {exc}", workers)]

    def _prepare(self, choice: WorkloadChoice) -> _Prepared:
        if choice not in self._prepared:
            self.listener("prepare", choice.name)
            workload = resolve(choice.name)
            start = time.perf_counter()
            data = workload.prepare(choice.size, self.scenario.seed, **dict(choice.params))
            with open_mode("synchronous", 1, blas_threads=self.scenario.blas_threads) as ctx:
                reference = workload.run(data, ctx)
            self._prepared[choice] = _Prepared(workload, data, reference,
                                               time.perf_counter() - start)
        return self._prepared[choice]

    def _workers(self, point: Point) -> PointWorkers | None:
        if point.scheduler not in DISTRIBUTED_MODES:
            return None
        if point.scheduler not in self.backends:
            raise ClusterbenchError(f"no cluster for the {point.scheduler} mode")
        return self.backends[point.scheduler].workers_for(point.workers)

    def _measure(self, point: Point, prepared: _Prepared, workers: PointWorkers | None
                 ) -> list[Record]:
        options = self._mode_options(point.scheduler, workers)
        with open_mode(point.scheduler, point.workers, **options) as ctx:
            warm_start = time.perf_counter()
            for _ in range(self.scenario.warmup):
                prepared.workload.run(prepared.data, ctx)
            warmup = time.perf_counter() - warm_start
            records = []
            for repeat in range(self.scenario.repeats):
                record = self._timed_repeat(point, prepared, ctx, repeat, workers, warmup)
                self.store.append(record)
                self.listener("record", record)
                records.append(record)
            return records

    def _mode_options(self, mode: str, workers: PointWorkers | None) -> dict[str, Any]:
        options: dict[str, Any] = {"blas_threads": self.scenario.blas_threads,
                                   "task_overhead": self.overheads.get(mode)}
        if workers is not None:
            options |= {"client": self.backends[mode].client,
                        "worker_addresses": workers.addresses,
                        "threads_per_worker": workers.threads}
        return options

    def _timed_repeat(self, point: Point, prepared: _Prepared, ctx: Any, repeat: int,
                      workers: PointWorkers | None, warmup: float) -> Record:
        ctx.reset_counters()
        start = time.perf_counter()
        result = prepared.workload.run(prepared.data, ctx)
        seconds = time.perf_counter() - start
        verdict = _verify(prepared.workload, result, prepared.reference)
        return self._record(
            point, repeat=repeat, seconds=seconds, verified=verdict.ok,
            error=None if verdict.ok else "verification failed", detail=verdict.detail,
            workers=workers, blas=ctx.blas_threads, warmup=warmup,
            setup=prepared.setup_seconds + (workers.setup_seconds if workers else 0.0),
            metrics=dict(getattr(result, "metrics", None) or {}) | _execution_facts(ctx),
        )

    def _failure(self, point: Point, message: str, workers: PointWorkers | None = None) -> Record:
        record = self._record(point, repeat=0, seconds=float("nan"), verified=False,
                              error=message.splitlines()[0] if message else "failed",
                              detail=message, workers=workers)
        self.store.append(record)
        self.listener("record", record)
        return record

    def _record(self, point: Point, *, workers: PointWorkers | None, blas: int | None = None,
                warmup: float = 0.0, setup: float = 0.0, metrics: dict | None = None,
                **fields: Any) -> Record:
        workload = point.workload
        prepared = self._prepared.get(workload)
        return Record(
            baseline=prepared.workload.baseline if prepared else None,
            run_id=self.run_id, workload=workload.name, size=workload.size,
            scheduler=point.scheduler, workers=point.workers,
            threads_per_worker=workers.threads if workers else 1,
            blas_threads=blas if blas is not None else (self.scenario.blas_threads or 0),
            worker_names=workers.names if workers else (),
            worker_hosts=workers.hosts if workers else (),
            worker_addresses=workers.addresses if workers else (),
            setup_seconds=setup, warmup_seconds=warmup,
            params=_params_of(workload, prepared),
            metrics=metrics or {},
            timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **fields,
        )


def _execution_facts(ctx: Any) -> dict[str, Any]:
    """What ran (e.g. ``joblib loky``), how many dask tasks, and the mode's task overhead."""
    facts: dict[str, Any] = {"executor": ", ".join(sorted(ctx.executors)) or "none"}
    if ctx.tasks:
        facts["tasks"] = ctx.tasks
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
