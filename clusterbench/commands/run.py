"""``clusterbench run`` and ``clusterbench report``."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from clusterbench.commands.common import err, inventory_from, out
from clusterbench.errors import ScenarioError, UsageError
from clusterbench.results.environment import capture_environment
from clusterbench.results.store import RunStore, new_run_id
from clusterbench.runner.execute import Sweep
from clusterbench.runner.plan import Point, plan_points
from clusterbench.runner.scenario import Scenario, load_scenario, narrow


def run(args: argparse.Namespace) -> int:
    """Plan, calibrate, execute and report one scenario; returns 1 when any point failed."""
    scenario = narrow(load_scenario(args.scenario), workloads=args.workloads, size=args.size,
                      schedulers=args.schedulers, workers=args.workers, repeats=args.repeats,
                      warmup=args.warmup, seed=args.seed, order=args.order)
    interfaces = _check_workloads(scenario)
    # Nanny shutdown chatter ("still alive after 4 s, killing") is not for the user.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    inventory = inventory_from(args.inventory)
    scenario = _without_duplicate_local_cluster(scenario, inventory, args)
    backends: dict[str, Any] = {}
    try:
        backends = _backends(args, inventory, scenario)
        points = plan_points(scenario, _maximum(backends, inventory), interfaces,
                             {mode: backend.max_workers for mode, backend in backends.items()})
        store = RunStore.create(Path(args.results_dir), new_run_id(scenario.name))
        environment = _environment(scenario, inventory, args)
        store.write_environment(environment)
        calibration = _calibrate(scenario, points, backends)
        store.write_environment(environment | {"calibration": calibration.as_json()})
        records = _execute(scenario, store, backends, calibration.task_overhead, points)
    finally:
        for backend in {id(b): b for b in backends.values()}.values():
            backend.close()
    return _finish(store, records)


def _check_workloads(scenario: Scenario) -> dict[str, str]:
    """Resolve every workload (one-line error for a bad name/size); name → interface."""
    from clusterbench.workloads.registry import resolve

    interfaces = {}
    for choice in scenario.workloads:
        workload = resolve(choice.name)
        if choice.size not in workload.sizes:
            raise ScenarioError(f"workload {choice.name!r} has no size {choice.size!r}; "
                                f"valid: {', '.join(workload.sizes)}")
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
    if modes & {"distributed", "distributed-scatter"}:
        if args.scheduler_address:
            cluster: Any = ExistingCluster(args.scheduler_address, order=scenario.order)
        elif args.attach:
            from clusterbench.cluster.lifecycle import running_cluster_address

            cluster = ExistingCluster(running_cluster_address(), order=scenario.order)
        else:
            cluster = ManagedCluster(inventory, order=scenario.order)
        backends |= {mode: cluster for mode in ("distributed", "distributed-scatter")}
    if "local-distributed" in modes:
        backends["local-distributed"] = ManagedCluster(inventory_from(None), order=scenario.order)
    return backends


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


def _environment(scenario: Scenario, inventory, args: argparse.Namespace) -> dict:  # noqa: ANN001
    return capture_environment({
        "scenario": {"name": scenario.name, "source": scenario.source,
                     "schedulers": list(scenario.schedulers), "workers": scenario.workers,
                     "repeats": scenario.repeats, "warmup": scenario.warmup,
                     "seed": scenario.seed, "blas_threads": scenario.blas_threads},
        "inventory": {"source": inventory.source, "cluster": inventory.cluster,
                      "hosts": [h.model_dump(mode="json") for h in inventory.hosts]},
        "scheduler_address": args.scheduler_address,
    })


def _execute(scenario: Scenario, store: RunStore, backends: dict[str, Any],
             overheads: dict[str, float], points: list[Point]) -> list:
    console = err()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=len(points))

        def listen(event: str, payload) -> None:  # noqa: ANN001
            if event == "point":
                progress.update(task, description=f"[bold]{payload.label}")
            elif event == "prepare":
                progress.update(task, description=f"preparing {payload} + serial reference")
            elif event == "done":
                progress.advance(task)
                for record in payload:
                    if record.error:
                        console.print(f"[red]FAILED[/] {record.workload}[{record.size}] "
                                      f"{record.scheduler}×{record.workers}: {record.error}")
                        break

        sweep = Sweep(scenario, store, backends=backends, overheads=overheads, listener=listen,
                      run_id=store.directory.name)
        return sweep.run(points)


def _finish(store: RunStore, records: list) -> int:  # noqa: ANN001
    from clusterbench.report.build import build_report
    from clusterbench.report.tables import speedup_table

    report = build_report(store.directory)
    out().print(speedup_table(report.summary))
    _warn_too_fine(report.summary)
    out().print(f"run directory: {store.directory}")
    failed = [r for r in records if not r.verified]
    if failed:
        err().print(f"[red]{len(failed)} measurement(s) failed or did not verify; "
                    f"see {report.report_md}[/]")
    return 1 if failed else 0


def _warn_too_fine(summary: Any) -> None:
    from clusterbench.analysis.modes import MAX_OVERHEAD_SHARE, too_fine

    for row in too_fine(summary).to_dict("records"):
        err().print(f"[yellow]warning: tasks too fine[/] in {row['workload']}[{row['size']}] "
                    f"{row['scheduler']}×{row['workers']}: {row['tasks']:.0f} tasks cost "
                    f"≈{row['overhead_share']:.1%} of the time in scheduling overhead "
                    f"(limit {MAX_OVERHEAD_SHARE:.0%})")


def report(args: argparse.Namespace) -> int:
    """Redraw summary.csv, plots and report.md of a run from records.jsonl alone."""
    from clusterbench.report.build import build_report
    from clusterbench.report.tables import speedup_table

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    built = build_report(run_dir)
    out().print(speedup_table(built.summary))
    _warn_too_fine(built.summary)
    out().print(f"wrote {', '.join(str(p.name) for p in built.files)} in {run_dir}")
    return 0

