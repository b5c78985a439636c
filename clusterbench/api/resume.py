"""Completing an interrupted run: :func:`resume_run` (``clusterbench run --resume``)."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clusterbench.api.cluster import Connection, backends_for, maximum_workers
from clusterbench.api.prepare import calibrate_points, calibration_json, check_workloads
from clusterbench.api.result import RunResult, finish_run, warn_torn
from clusterbench.api.sweep import close_backends, execute, note_resume, quiet_logs
from clusterbench.console import err, out
from clusterbench.errors import ClusterbenchError, DiskFullError, UsageError
from clusterbench.inventory.default import inventory_from
from clusterbench.inventory.model import Inventory
from clusterbench.results.environment import capture_environment
from clusterbench.results.store import RunStore
from clusterbench.runner.plan import plan_points
from clusterbench.runner.resume import ResumedSweep, ResumePlan, environment_changes, resume_plan


def resume_run(run_dir: str | Path, *, inventory: str | Path | None = None,
               force: bool = False, scheduler_address: str | None = None,
               attach: bool = False, insecure: bool = False) -> RunResult:
    """Run the missing repeats of an interrupted run and redraw its report
    (``clusterbench run --resume``).

    Parameters
    ----------
    run_dir : str or Path
        The run directory to complete.
    inventory : str or Path, optional
        Only the inventory file the run used (default: that file).
    force : bool
        Resume although the code, packages, machine or inventory changed (warned).
    scheduler_address, attach, insecure
        As for :func:`~clusterbench.api.run_scenario`: a run on an existing cluster
        resumes on one.

    Returns
    -------
    RunResult
        The whole run's records and report (also when nothing was missing).

    Raises
    ------
    ClusterbenchError
        Not a run directory, another inventory, a change without *force*, or an
        attached run without a cluster to attach to.
    """
    plan = resume_plan(run_dir)
    warn_torn(plan.torn)
    loaded = _inventory(inventory, plan)
    forced = _check_environment(plan, loaded, force)
    connection = Connection(scheduler_address, attach, insecure)
    _check_cluster(connection, plan)
    scenario = plan.scenario
    interfaces = check_workloads(scenario)
    quiet_logs()
    store = RunStore(plan.run_dir)
    backends: dict[str, Any] = {}
    try:
        backends = backends_for(connection, loaded, scenario)
        points = plan_points(scenario, maximum_workers(backends, loaded), interfaces,
                             {mode: backend.max_workers for mode, backend in backends.items()})
        missing = plan.missing(points)
        planned = len(points) * scenario.repeats
        if not missing:
            out().print(f"nothing to resume: all {planned} repeats are recorded")
            return finish_run(store, [])
        err().print(f"resuming {plan.run_dir}: {len(missing)} of {planned} repeats missing")
        if scenario.stabilize:
            err().print("note: extra --stabilize repeats are not run on resume; noisy points "
                        "stay flagged in the report")
        environment = _record_resume(store, plan, forced, len(missing),
                                     calibrate_points(scenario, points, backends))
        # The point's earlier repeats sized their tasks with the run's first calibration.
        overheads = environment["calibration"].get("task_overhead", {})
        execute(dataclasses.replace(scenario, stabilize=0), store, backends, overheads,
                points, lambda at: None, environment, sweep_type=ResumedSweep,
                total=len(missing), plan=plan, _position=plan.position)
    except (KeyboardInterrupt, DiskFullError) as exc:
        note_resume(exc, store)
        raise
    finally:
        close_backends(backends)
    return finish_run(store, store.records())


def _inventory(given: str | Path | None, plan: ResumePlan) -> Inventory:
    """The run's inventory file; *given* (``--inventory``) may only name that same file."""
    recorded = plan.inventory
    if not recorded:
        raise ClusterbenchError(f"{plan.run_dir}: environment.json names no inventory; "
                                f"cannot resume")
    if given and not _same_file(str(given), recorded):
        raise UsageError(f"--inventory {given}: the run used {recorded}; omit "
                         f"--inventory to use it")
    return inventory_from(str(given) if given else recorded)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def _check_environment(plan: ResumePlan, inventory: Inventory, force: bool) -> list[str]:
    """Refuse (or, forced, warn) when code, packages, machine or inventory changed."""
    changes = environment_changes(plan.environment, capture_environment(),
                                  [h.model_dump(mode="json") for h in inventory.hosts])
    if changes and not force:
        raise ClusterbenchError(f"cannot resume {plan.run_dir}: changed since the run "
                                f"started: {'; '.join(changes)} (--force resumes anyway)")
    if changes:
        err().print(f"[yellow]warning:[/] resuming although {'; '.join(changes)}; the "
                    f"repeats before and after may not compare", soft_wrap=True)
    return changes


def _check_cluster(args: Connection, plan: ResumePlan) -> None:
    """A run on a cluster someone else started resumes on such a cluster, not a new one."""
    address = plan.environment.get("scheduler_address")
    attached = address or plan.environment.get("security") == "attached"
    if attached and not (args.scheduler_address or args.attach):
        raise UsageError(f"{plan.run_dir} ran on an existing cluster"
                         + (f" ({address})" if address else "")
                         + "; give --scheduler-address or --attach to resume it")


def _record_resume(store: RunStore, plan: ResumePlan, forced: list[str], missing: int,
                   calibration: Any) -> dict[str, Any]:
    """environment.json gains a ``resumes`` entry (when, what was missing, what was forced,
    the new cluster's calibration); the run's first calibration stays."""
    environment = dict(plan.environment)
    measured = calibration_json(calibration)
    if "calibration" not in environment:  # interrupted while calibrating: this one is the run's
        environment |= measured
    environment.setdefault("resumes", []).append({
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "missing": missing, "forced": forced, "calibration": measured["calibration"]})
    store.write_environment(environment)
    return environment
