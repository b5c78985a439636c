"""``clusterbench run`` and ``clusterbench report``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from clusterbench.commands.common import err, inventory_from, out
from clusterbench.errors import ScenarioError, UsageError
from clusterbench.results.environment import capture_environment
from clusterbench.results.store import RunStore, new_run_id
from clusterbench.runner.execute import Sweep
from clusterbench.runner.plan import Point, plan_points
from clusterbench.runner.scenario import Scenario, load_scenario, narrow


def run(args: argparse.Namespace) -> int:
    """Plan, execute and report one scenario; returns 1 when any point failed."""
    scenario = narrow(load_scenario(args.scenario), workloads=args.workloads, size=args.size,
                      schedulers=args.schedulers, workers=args.workers, repeats=args.repeats,
                      warmup=args.warmup, seed=args.seed)
    _check_workloads(scenario)
    # Nanny shutdown chatter ("still alive after 4 s, killing") is not for the user.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    inventory = inventory_from(args.inventory)
    backend = _backend(args, inventory) if "distributed" in scenario.schedulers else None
    try:
        maximum = backend.max_workers if backend else inventory.total_workers
        points = plan_points(scenario, maximum)
        store = RunStore.create(Path(args.results_dir), new_run_id(scenario.name))
        store.write_environment(_environment(scenario, inventory, args))
        records = _execute(scenario, store, backend, points)
    finally:
        if backend is not None:
            backend.close()
    return _finish(store, records)


def _check_workloads(scenario: Scenario) -> None:
    from clusterbench.workloads.registry import resolve

    for choice in scenario.workloads:
        workload = resolve(choice.name)
        if choice.size not in workload.sizes:
            raise ScenarioError(f"workload {choice.name!r} has no size {choice.size!r}; "
                                f"valid: {', '.join(workload.sizes)}")


def _backend(args: argparse.Namespace, inventory):  # noqa: ANN202 - either backend
    from clusterbench.runner.backends import ExistingCluster, ManagedCluster

    if args.scheduler_address:
        return ExistingCluster(args.scheduler_address)
    if args.attach:
        from clusterbench.cluster.lifecycle import running_cluster_address

        return ExistingCluster(running_cluster_address())
    return ManagedCluster(inventory)


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


def _execute(scenario: Scenario, store: RunStore, backend, points: list[Point]) -> list:  # noqa: ANN001
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

        sweep = Sweep(scenario, store, cluster=backend, listener=listen,
                      run_id=store.directory.name)
        return sweep.run(points)


def _finish(store: RunStore, records: list) -> int:  # noqa: ANN001
    from clusterbench.report.build import build_report
    from clusterbench.report.tables import speedup_table

    report = build_report(store.directory)
    out().print(speedup_table(report.summary))
    out().print(f"run directory: {store.directory}")
    failed = [r for r in records if not r.verified]
    if failed:
        err().print(f"[red]{len(failed)} measurement(s) failed or did not verify; "
                    f"see {report.report_md}[/]")
    return 1 if failed else 0


def report(args: argparse.Namespace) -> int:
    """Redraw summary.csv, plots and report.md of a run from records.jsonl alone."""
    from clusterbench.report.build import build_report
    from clusterbench.report.tables import speedup_table

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    built = build_report(run_dir)
    out().print(speedup_table(built.summary))
    out().print(f"wrote {', '.join(str(p.name) for p in built.files)} in {run_dir}")
    return 0

