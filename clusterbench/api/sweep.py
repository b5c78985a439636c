"""One scenario from plan to report: :func:`run_scenario` (``clusterbench run``)."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from clusterbench.api.cluster import (
    Connection,
    backends_for,
    dashboard_of,
    maximum_workers,
    transport_of,
)
from clusterbench.api.prepare import (
    CapacityChecks,
    calibrate_points,
    calibration_json,
    capacity_width,
    check_workloads,
    environment_of,
    note_skipped,
    without_duplicate_local_cluster,
)
from clusterbench.api.result import RunResult, finish_run
from clusterbench.console import err, report_leftovers
from clusterbench.errors import DiskFullError
from clusterbench.inventory.default import inventory_from
from clusterbench.results.store import RunStore, new_run_id
from clusterbench.runner.backends import ManagedCluster
from clusterbench.runner.eta import SweepEstimate, clock_text
from clusterbench.runner.execute import Sweep
from clusterbench.runner.plan import Point, plan_points
from clusterbench.runner.scenario import Scenario, load_scenario, narrow


def run_scenario(scenario: str | Path | Scenario, *, inventory: str | Path | None = None,
                 cluster: ManagedCluster | None = None,
                 workloads: Sequence[str] | str | None = None, size: str | None = None,
                 schedulers: Sequence[str] | str | None = None,
                 workers: Sequence[int] | str | None = None, repeats: int | None = None,
                 warmup: int | None = None, seed: int | None = None, order: str | None = None,
                 order_points: str | None = None, stabilize: int | None = None,
                 retries: int | None = None, weak: bool = False,
                 results_dir: str | Path = "results", insecure: bool = False,
                 scheduler_address: str | None = None, attach: bool = False) -> RunResult:
    """Plan, calibrate, execute and report one scenario (``clusterbench run``).

    Parameters
    ----------
    scenario : str, Path or Scenario
        A scenario name (``scaling``), a YAML file, or a loaded :class:`Scenario`.
    inventory : str or Path, optional
        The inventory file; the cluster's, else the local default, when None.
    cluster : Cluster, optional
        A started cluster (:meth:`Cluster.up`) for the distributed modes; left running.
    workloads, schedulers : list of str or str, optional
        Narrow the scenario: names, as a list or comma-separated.
    size : str, optional
        ``tiny``, ``quick``, ``small`` or ``full`` for every workload.
    workers : list of int or str, optional
        Worker counts, e.g. ``[1, 2]`` or ``"1,2,4..max"``.
    repeats, warmup, seed, stabilize, retries : int, optional
        As the ``run`` options of the same names; None keeps the scenario's value.
    order, order_points : str, optional
        Order of adding workers, and of the points (``--order``, ``--order-points``).
    weak : bool
        Weak scaling instead of strong.
    results_dir : str or Path
        Where the run directory is created.
    insecure : bool
        Plain TCP to remote hosts for a cluster this run starts.
    scheduler_address : str, optional
        Run the distributed modes on the scheduler at this address.
    attach : bool
        Run the distributed modes on the cluster ``clusterbench up`` started.

    Returns
    -------
    RunResult
        The run directory, records, summary and fits.

    Raises
    ------
    ClusterbenchError
        A bad scenario, option or inventory (one line), before any cluster starts.
    KeyboardInterrupt
        Interrupted; its ``resume_hint`` is the command that completes the run.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(str(scenario))
    scenario = narrow(scenario, workloads=_comma(workloads), size=size,
                      schedulers=_comma(schedulers), workers=_comma(workers), repeats=repeats,
                      warmup=warmup, seed=seed, order=order, order_points=order_points,
                      stabilize=stabilize, retries=retries, weak=weak)
    interfaces = check_workloads(scenario)
    quiet_logs()
    connection = Connection(scheduler_address, attach, insecure, cluster)
    loaded = cluster.inventory if inventory is None and cluster is not None \
        else inventory_from(None if inventory is None else str(inventory))
    scenario = without_duplicate_local_cluster(scenario, loaded, connection)
    backends: dict[str, Any] = {}
    try:
        backends = backends_for(connection, loaded, scenario)
        store, records = _sweep(scenario, loaded, backends, interfaces, connection,
                                Path(results_dir))
    finally:
        close_backends({mode: b for mode, b in backends.items() if b is not cluster})
        if cluster is not None:
            cluster.release()  # left running for the caller: none of its workers paused
    return finish_run(store, records)


def _comma(value: Sequence[Any] | str | None) -> str | None:
    """A list option as the command line gives it: comma-separated."""
    if value is None or isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


def quiet_logs() -> None:
    # Nanny shutdown chatter ("still alive after 4 s, killing") is not for the user.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    # The in-process scheduler logs a worker it cannot reach (a cut link) as tracebacks; the
    # sweep records that repeat as failed with the reason (runner.deadline), in one line.
    logging.getLogger("distributed.scheduler").setLevel(logging.CRITICAL)
    logging.getLogger("asyncio").addFilter(quiet_interrupted_gather)


def _sweep(scenario: Scenario, inventory: Any, backends: dict[str, Any],
           interfaces: dict[str, str], connection: Any,
           results_dir: Path) -> tuple[RunStore, list]:
    """Plan the points, create the run directory, calibrate and run the sweep."""
    maximum = maximum_workers(backends, inventory)
    points = plan_points(scenario, maximum, interfaces,
                         {mode: backend.max_workers for mode, backend in backends.items()})
    note_skipped(scenario, maximum)
    store = RunStore.create(results_dir, new_run_id(scenario.name))
    try:
        environment = environment_of(scenario, inventory, connection)
        environment["security"] = transport_of(backends)
        store.write_environment(environment)
        calibration = calibrate_points(scenario, points, backends)
        environment |= calibration_json(calibration)
        environment["dashboard"] = dashboard_of(backends)
        store.write_environment(environment)
        checks = CapacityChecks(store, environment, capacity_width(points))
        estimate = estimate_of(scenario, points, environment)
        records = execute(scenario, store, backends, calibration.task_overhead, points,
                           checks.measure, environment, estimate=estimate)
        checks.measure("end")
    except (KeyboardInterrupt, DiskFullError) as exc:
        note_resume(exc, store)
        raise
    return store, records


def close_backends(backends: dict[str, Any]) -> None:
    """Stop every cluster of the run (once each) and report what outlived it."""
    for backend in {id(b): b for b in backends.values()}.values():
        backend.close()
        report_leftovers(getattr(backend, "leftovers", {}))


def note_resume(exc: BaseException, store: RunStore | None) -> None:
    """Tell an interrupted (or disk-full) run's user how to finish it: the CLI prints
    ``resume_hint`` after its "interrupted" line; a full disk's one line gets the hint."""
    if store is None:  # nothing was written yet: nothing to resume
        return
    command = f"clusterbench run --resume {shlex.quote(str(store.directory))}"
    if isinstance(exc, DiskFullError):
        exc.args = (f"{exc.args[0]}; once there is room: {command}",)
    else:
        exc.resume_hint = command  # type: ignore[attr-defined]


def quiet_interrupted_gather(record: logging.LogRecord) -> bool:
    """Drop asyncio's "Task exception was never retrieved ... AllExit": the client's pending
    gather, abandoned when a signal stops the run (the run says it was interrupted)."""
    exc = record.exc_info[1] if record.exc_info else None
    return type(exc).__name__ not in ("AllExit", "CancelledError")


def estimate_of(scenario: Scenario, points: list[Point],
                environment: dict[str, Any]) -> SweepEstimate:
    """The sweep's time estimate: the workloads' reference times, plus the two capacity
    re-checks (as long as the one at the start)."""
    from clusterbench.workloads.registry import resolve

    serial = {p.workload.name: resolve(p.workload.name).reference_seconds.get(p.workload.size)
              for p in points}
    checks = environment.get("calibration", {}).get("capacity_checks") or [{}]
    return SweepEstimate(points, scenario.repeats, scenario.warmup, serial,
                         fixed=2 * float(checks[0].get("seconds") or 0.0))


class EstimateColumn(ProgressColumn):
    """The sweep's own estimate (:mod:`clusterbench.runner.eta`) when the task has one,
    else rich's count-based one (a resumed sweep)."""

    fallback = TimeRemainingColumn()

    def render(self, task: Any) -> Text:
        if "eta" not in task.fields:
            return self.fallback.render(task)
        return Text(task.fields["eta"], style="progress.remaining")


def execute(scenario: Scenario, store: RunStore, backends: dict[str, Any],
             overheads: dict[str, float], points: list[Point],
             checkpoint: Callable[[str], None], environment: dict[str, Any],
             sweep_type: type[Sweep] = Sweep, total: int | None = None,
             estimate: SweepEstimate | None = None, **options: Any) -> list:
    """Run the sweep under a progress bar; *total* items (all planned ones by default),
    *estimate* its time (rich's count-based estimate when None), *options* go to
    *sweep_type* (a resumed sweep's plan and position)."""
    from clusterbench.analysis.capacity import CapacityModel

    console = err()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("ETA"), EstimateColumn())
    reported: set[tuple] = set()
    planned = total if total is not None else len(points) * scenario.repeats
    if estimate is not None:
        console.print(plan_line(scenario, points, estimate))
    with Progress(*columns, console=console, transient=False) as progress:
        fields: dict[str, Any] = {} if estimate is None else {"eta": clock_text(estimate.first())}
        task = progress.add_task(f"planned: {len(points)} points", total=planned, **fields)
        current: list[Point] = []

        def listen(event: str, payload) -> None:  # noqa: ANN001
            if event == "item":
                point, round_index = payload
                current[:] = [point]
                # escaped: "montecarlo[tiny]" is not a style tag
                progress.update(task, description=f"[bold]{escape(point.label)}[/] "
                                                  f"repeat {round_index + 1}")
            elif event == "prepare":
                progress.update(task, description=f"preparing {payload} + serial reference")
            elif event == "extra":
                progress.update(task, total=(progress.tasks[0].total or 0) + 1)
                if estimate is not None:
                    estimate.extra(payload)
            elif event == "record":
                if estimate is not None and current:
                    estimate.done(current[0])
                    progress.update(task, eta=clock_text(estimate.remaining()))
                progress.advance(task)
                report_record(console, payload, reported)

        sweep = sweep_type(scenario, store, backends=backends, overheads=overheads,
                           listener=listen, run_id=store.directory.name,
                           checkpoint=checkpoint,
                           capacity=CapacityModel.from_environment(environment), **options)
        return sweep.run(points)


def plan_line(scenario: Scenario, points: list[Point], estimate: SweepEstimate) -> str:
    """``planned: 28 points × 2 repeats (+1 warm-up each) = 56 timed runs; about 2:40``."""
    warmup = f" (+{scenario.warmup} warm-up each)" if scenario.warmup else ""
    first = estimate.first()
    how_long = ("; about " + clock_text(first) + " (from the workloads' reference times on "
                "a 2-core machine)") if first is not None else \
        "; time estimate after the first repeats (a workload states no reference time)"
    return (f"planned: {len(points)} points × {scenario.repeats} repeats{warmup} = "
            f"{len(points) * scenario.repeats} timed runs{how_long}")


def report_record(console: Any, record: Any, reported: set[tuple]) -> None:
    """One line per point for its first failure and its first changed worker set."""
    key = (record.workload, record.size, record.scheduler, record.workers)
    where = f"{record.workload}[{record.size}] {record.scheduler}×{record.workers}"
    if record.worker_set_changed and (key, "changed") not in reported:
        reported.add((key, "changed"))
        console.print(f"[yellow]worker set changed[/] in {where} repeat {record.round + 1}: "
                      f"{record.worker_set_note}; not counted"
                      + ("" if record.attempt else ", re-running it"))
    elif record.error and (key, "failed") not in reported:
        reported.add((key, "failed"))
        console.print(f"[red]FAILED[/] {where}: {record.error}")
