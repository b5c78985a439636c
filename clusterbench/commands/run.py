"""``clusterbench run`` and ``clusterbench report``."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from clusterbench.commands.common import err, inventory_from, out, report_leftovers
from clusterbench.errors import DiskFullError, ScenarioError, UsageError
from clusterbench.results.environment import capture_environment
from clusterbench.results.store import RunStore, new_run_id
from clusterbench.runner.execute import Sweep
from clusterbench.runner.plan import Point, plan_points
from clusterbench.runner.scenario import Scenario, load_scenario, narrow


def run(args: argparse.Namespace) -> int:
    """Plan, calibrate, execute and report one scenario; returns 1 when any point failed.

    ``--resume RUN_DIR`` completes an interrupted run instead (:mod:`.resume`)."""
    if args.resume:
        from clusterbench.commands.resume import resume

        return resume(args)
    _require_scenario(args)
    scenario = narrow(load_scenario(args.scenario), workloads=args.workloads, size=args.size,
                      schedulers=args.schedulers, workers=args.workers, repeats=args.repeats,
                      warmup=args.warmup, seed=args.seed, order=args.order,
                      order_points=args.order_points, stabilize=args.stabilize,
                      retries=args.retries, weak=args.weak)
    interfaces = _check_workloads(scenario)
    # Nanny shutdown chatter ("still alive after 4 s, killing") is not for the user.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    # The in-process scheduler logs a worker it cannot reach (a cut link) as tracebacks; the
    # sweep records that repeat as failed with the reason (runner.deadline), in one line.
    logging.getLogger("distributed.scheduler").setLevel(logging.CRITICAL)
    logging.getLogger("asyncio").addFilter(quiet_interrupted_gather)
    inventory = inventory_from(args.inventory)
    scenario = _without_duplicate_local_cluster(scenario, inventory, args)
    backends: dict[str, Any] = {}
    store: RunStore | None = None
    try:
        backends = _backends(args, inventory, scenario)
        maximum = _maximum(backends, inventory)
        points = plan_points(scenario, maximum, interfaces,
                             {mode: backend.max_workers for mode, backend in backends.items()})
        _note_skipped(scenario, maximum)
        store = RunStore.create(Path(args.results_dir), new_run_id(scenario.name))
        environment = _environment(scenario, inventory, args)
        environment["security"] = _security(backends, args)
        store.write_environment(environment)
        calibration = _calibrate(scenario, points, backends)
        environment |= _calibration_json(calibration)
        store.write_environment(environment)
        checks = _CapacityChecks(store, environment, _capacity_width(points))
        records = _execute(scenario, store, backends, calibration.task_overhead, points,
                           checks.measure, environment)
        checks.measure("end")
    except (KeyboardInterrupt, DiskFullError) as exc:
        note_resume(exc, store)
        raise
    finally:
        close_backends(backends)
    return _finish(store, records)


def _require_scenario(args: argparse.Namespace) -> None:
    if args.scenario is None:
        raise UsageError("run: give a scenario (e.g. scaling, or a YAML file) or "
                         "--resume RUN_DIR")
    if args.force:
        raise UsageError("--force goes with --resume RUN_DIR only")


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


def _note_skipped(scenario: Scenario, maximum: int) -> None:
    from clusterbench.runner.scenario import skipped_counts

    skipped = skipped_counts(scenario.workers, maximum)
    if skipped:
        err().print(f"note: worker count(s) {', '.join(map(str, skipped))} skipped: there are "
                    f"{maximum} workers")


def _check_workloads(scenario: Scenario) -> dict[str, str]:
    """Resolve every workload (one-line error for a bad name, size or params); name →
    interface."""
    from clusterbench.workloads.registry import resolve

    interfaces = {}
    for choice in scenario.workloads:
        workload = resolve(choice.name)
        if choice.size not in workload.sizes:
            raise ScenarioError(f"workload {choice.name!r} has no size {choice.size!r}; "
                                f"valid: {', '.join(workload.sizes)}")
        # Here, not in prepare: a bad value must not cost a cluster start and a calibration.
        problem = workload.params_problem(dict(choice.params))
        if problem:
            raise ScenarioError(f"{scenario.source}: workload {choice.name!r}: params: "
                                f"{problem}")
        if scenario.scaling == "weak" and workload.weak_param is None:
            raise ScenarioError(f"{scenario.source}: workload {choice.name!r} cannot scale "
                                f"weakly (it has no size parameter that grows with the "
                                f"workers); drop it or run strong scaling")
        interfaces[choice.name] = workload.interface
    return interfaces


def _without_duplicate_local_cluster(scenario: Scenario, inventory: Any,
                                     args: argparse.Namespace) -> Scenario:
    """``local-distributed`` duplicates ``distributed`` when the inventory is this machine."""
    attached = args.scheduler_address or args.attach
    all_local = all(host.launcher == "local" for host in inventory.hosts)
    if ("local-distributed" in scenario.schedulers and "distributed" in scenario.schedulers
            and all_local and not attached):
        err().print("note: the inventory is this machine, so local-distributed = distributed; "
                    "running it once")
        modes = tuple(m for m in scenario.schedulers if m != "local-distributed")
        return dataclasses.replace(scenario, schedulers=modes)
    return scenario


def _backends(args: argparse.Namespace, inventory: Any, scenario: Scenario) -> dict[str, Any]:
    """Mode → cluster backend; the two ``distributed`` modes share one cluster."""
    from clusterbench.runner.backends import ExistingCluster, ManagedCluster

    backends: dict[str, Any] = {}
    modes = set(scenario.schedulers)
    uses_cluster = modes & {"distributed", "distributed-scatter"}
    if (args.scheduler_address or args.attach) and not uses_cluster:
        given = f"--scheduler-address {args.scheduler_address}" if args.scheduler_address \
            else "--attach"
        raise UsageError(f"{given}: no distributed mode in this run (schedulers: "
                         f"{', '.join(scenario.schedulers)}); add --schedulers distributed")
    if uses_cluster:
        if args.scheduler_address:
            # A cluster `up` started brings its own TLS files; for anyone else's the
            # credentials come from dask's config (distributed.comm.tls.*), as for any client.
            from clusterbench.cluster.lifecycle import security_for_address

            cluster: Any = ExistingCluster(args.scheduler_address, order=scenario.order,
                                           security=security_for_address(args.scheduler_address))
        elif args.attach:
            from clusterbench.cluster.lifecycle import cluster_security, running_cluster

            state = running_cluster()
            cluster = ExistingCluster(state["address"], order=scenario.order,
                                      security=cluster_security(state))
        else:
            cluster = ManagedCluster(inventory, order=scenario.order,
                                     insecure=getattr(args, "insecure", False))
            _warn_insecure(cluster.security)
        backends |= {mode: cluster for mode in ("distributed", "distributed-scatter")}
    if "local-distributed" in modes:
        backends["local-distributed"] = ManagedCluster(inventory_from(None), order=scenario.order)
    return backends


def _warn_insecure(security: str) -> None:
    from clusterbench.cluster.security import INSECURE_WARNING

    if security == "insecure":
        err().print(f"[yellow]warning:[/] {INSECURE_WARNING}")


def _security(backends: dict[str, Any], args: argparse.Namespace) -> str | None:
    """How the run's cluster was reached, for environment.json: ``tls``, ``loopback``,
    ``insecure``, or ``attached`` (a cluster someone else started)."""
    cluster = backends.get("distributed")
    if cluster is None:
        return None
    return getattr(cluster, "security", None) if hasattr(cluster, "session") else "attached"


def _maximum(backends: dict[str, Any], inventory: Any) -> int:
    """What ``max`` means: the distributed cluster's workers, else the inventory's."""
    if "distributed" in backends:
        return backends["distributed"].max_workers
    return inventory.total_workers


def _calibrate(scenario: Scenario, points: list[Point], backends: dict[str, Any]) -> Any:
    from clusterbench.runner.calibrate import calibrate

    widest: dict[str, int] = {}
    for point in points:
        widest[point.scheduler] = max(widest.get(point.scheduler, 1), point.workers)
    with err().status("calibrating") as status:
        return calibrate(widest, backends, scenario.blas_threads,
                         listener=lambda message: status.update(message))


def _calibration_json(calibration: Any) -> dict[str, Any]:
    """``calibration`` and ``hosts`` (the measured cluster's fingerprints and capacities,
    top level of environment.json) from a :class:`Calibration`."""
    data = calibration.as_json()
    return {"hosts": data.pop("hosts", {}), "calibration": data}


def _capacity_width(points: list[Point]) -> int:
    """Processes the machine-capacity check needs: the widest threads/processes point."""
    from clusterbench.runner.modes import DISTRIBUTED_MODES

    local = [p.workers for p in points if p.scheduler not in DISTRIBUTED_MODES]
    return max(local, default=1)


@dataclass
class _CapacityChecks:
    """The machine capacity measured again in the middle and at the end of the sweep, so
    the report gives it as a range (a single check at the start once read 1.31x on a
    machine whose workloads then reached 2.13x)."""

    store: RunStore
    environment: dict[str, Any]
    width: int

    def measure(self, at: str) -> None:
        from clusterbench.runner.calibrate import capacity_check

        with err().status(f"calibrating: machine capacity ({at} of the sweep)"):
            check = capacity_check(at, self.width)
        self.environment["calibration"].setdefault("capacity_checks", []).append(check)
        self.store.write_environment(self.environment)


def _environment(scenario: Scenario, inventory, args: argparse.Namespace) -> dict:  # noqa: ANN001
    return capture_environment({
        "scenario": {"name": scenario.name, "source": scenario.source,
                     "schedulers": list(scenario.schedulers), "workers": scenario.workers,
                     "repeats": scenario.repeats, "warmup": scenario.warmup,
                     "seed": scenario.seed, "blas_threads": scenario.blas_threads,
                     "order_points": scenario.order_points, "stabilize": scenario.stabilize,
                     "retries": scenario.retries, "scaling": scenario.scaling,
                     # the rest of what --resume needs to run the same scenario again
                     "workloads": [{"name": w.name, "size": w.size, "params": dict(w.params)}
                                   for w in scenario.workloads],
                     "order": scenario.order, "timeout": scenario.timeout},
        "inventory": {"source": inventory.source, "cluster": inventory.cluster,
                      "path": _absolute(inventory.source),
                      "hosts": [h.model_dump(mode="json") for h in inventory.hosts]},
        "scheduler_address": args.scheduler_address,
    })


def _absolute(source: str) -> str | None:
    """The inventory file's absolute path (a resume may start in another directory)."""
    path = Path(source)
    return str(path.resolve()) if path.is_file() else None


def _execute(scenario: Scenario, store: RunStore, backends: dict[str, Any],
             overheads: dict[str, float], points: list[Point],
             checkpoint: Callable[[str], None], environment: dict[str, Any],
             sweep_type: type[Sweep] = Sweep, total: int | None = None,
             **options: Any) -> list:
    """Run the sweep under a progress bar; *total* items (all planned ones by default),
    *options* go to *sweep_type* (a resumed sweep's plan and position)."""
    from clusterbench.analysis.capacity import CapacityModel

    console = err()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    reported: set[tuple] = set()
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=total if total is not None
                                 else len(points) * scenario.repeats)

        def listen(event: str, payload) -> None:  # noqa: ANN001
            if event == "item":
                point, round_index = payload
                progress.update(task, description=f"[bold]{point.label}[/] "
                                                  f"repeat {round_index + 1}")
            elif event == "prepare":
                progress.update(task, description=f"preparing {payload} + serial reference")
            elif event == "extra":
                progress.update(task, total=progress.tasks[0].total + 1)
            elif event == "record":
                progress.advance(task)
                _report_record(console, payload, reported)

        sweep = sweep_type(scenario, store, backends=backends, overheads=overheads,
                           listener=listen, run_id=store.directory.name,
                           checkpoint=checkpoint,
                           capacity=CapacityModel.from_environment(environment), **options)
        return sweep.run(points)


def _report_record(console: Any, record: Any, reported: set[tuple]) -> None:
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


def _finish(store: RunStore, records: list) -> int:  # noqa: ANN001
    from clusterbench.report.build import build_report
    from clusterbench.report.terminal import print_run_summary

    report = build_report(store.directory)
    _warn_torn(report.torn)
    _warn_unwritten(report.warnings)
    print_run_summary(report.summary, report.fits, out(), err())
    out().print(f"run directory: {store.directory}")
    failed = [r for r in records if not r.verified and not r.worker_set_changed]
    if failed:
        err().print(f"[red]{len(failed)} measurement(s) failed or did not verify; "
                    f"see {report.report_md}[/]")
    return 1 if failed else 0


def _warn_torn(torn: str | None) -> None:
    if torn:
        err().print(f"[yellow]warning:[/] {escape(torn)}")


def _warn_unwritten(warnings: tuple[str, ...]) -> None:
    """A report file that could not be written: the records are safe, say so once each."""
    for warning in warnings:
        err().print(f"[yellow]warning:[/] {escape(warning)} (records.jsonl is intact; "
                    f"`clusterbench report` redraws it)", soft_wrap=True)


def report(args: argparse.Namespace) -> int:
    """Redraw summary.csv, plots and report.md of a run from records.jsonl alone."""
    from clusterbench.report.build import build_report
    from clusterbench.report.terminal import print_run_summary

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    built = build_report(run_dir)
    _warn_torn(built.torn)
    _warn_unwritten(built.warnings)
    print_run_summary(built.summary, built.fits, out(), err())
    written = [p.name for p in built.files if p not in built.unwritten]
    out().print(f"wrote {', '.join(written) or 'nothing'} in {run_dir}")
    return 0

