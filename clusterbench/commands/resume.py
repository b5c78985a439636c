"""``clusterbench run --resume RUN_DIR``: the command-line side of
:mod:`clusterbench.runner.resume` (options checked, cluster started, progress shown)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clusterbench.commands.common import err, inventory_from, out
from clusterbench.commands.run import (
    _backends,
    _calibrate,
    _calibration_json,
    _check_workloads,
    _execute,
    _finish,
    _maximum,
    _warn_torn,
    close_backends,
    note_resume,
    quiet_interrupted_gather,
)
from clusterbench.errors import ClusterbenchError, DiskFullError, UsageError
from clusterbench.inventory.model import Inventory
from clusterbench.results.environment import capture_environment
from clusterbench.results.store import RunStore
from clusterbench.runner.plan import plan_points
from clusterbench.runner.resume import ResumedSweep, ResumePlan, environment_changes, resume_plan

#: ``run`` options that would change what a resumed run measures: argparse dest → flag.
CHANGING = {"scenario": "a scenario", "workloads": "--workloads", "size": "--size",
            "schedulers": "--schedulers", "workers": "--workers", "repeats": "--repeats",
            "warmup": "--warmup", "seed": "--seed", "order": "--order",
            "order_points": "--order-points", "stabilize": "--stabilize",
            "retries": "--retries", "weak": "--weak"}


def resume(args: argparse.Namespace) -> int:
    """Run the missing repeats of ``args.resume`` and redraw its report.

    Returns 1 when any record of the run failed (as ``run``), 0 otherwise, also when
    nothing was missing.
    """
    _refuse_changing_options(args)
    plan = resume_plan(args.resume)
    _warn_torn(plan.torn)
    inventory = _inventory(args, plan)
    forced = _check_environment(plan, inventory, args.force)
    _check_cluster(args, plan)
    scenario = plan.scenario
    interfaces = _check_workloads(scenario)
    logging.getLogger("distributed").setLevel(logging.ERROR)  # Nanny shutdown chatter
    logging.getLogger("asyncio").addFilter(quiet_interrupted_gather)
    store = RunStore(plan.run_dir)
    backends: dict[str, Any] = {}
    try:
        backends = _backends(args, inventory, scenario)
        points = plan_points(scenario, _maximum(backends, inventory), interfaces,
                             {mode: backend.max_workers for mode, backend in backends.items()})
        missing = plan.missing(points)
        planned = len(points) * scenario.repeats
        if not missing:
            out().print(f"nothing to resume: all {planned} repeats are recorded")
            return _finish(store, [])
        err().print(f"resuming {plan.run_dir}: {len(missing)} of {planned} repeats missing")
        if scenario.stabilize:
            err().print("note: extra --stabilize repeats are not run on resume; noisy points "
                        "stay flagged in the report")
        environment = _record_resume(store, plan, forced, len(missing),
                                     _calibrate(scenario, points, backends))
        # The point's earlier repeats sized their tasks with the run's first calibration.
        overheads = environment["calibration"].get("task_overhead", {})
        _execute(dataclasses.replace(scenario, stabilize=0), store, backends, overheads,
                 points, lambda at: None, environment, sweep_type=ResumedSweep,
                 total=len(missing), plan=plan, _position=plan.position)
    except (KeyboardInterrupt, DiskFullError) as exc:
        note_resume(exc, store)
        raise
    finally:
        close_backends(backends)
    return _finish(store, store.records())


def _refuse_changing_options(args: argparse.Namespace) -> None:
    given = [flag for dest, flag in CHANGING.items() if getattr(args, dest, None)
             not in (None, False)]
    if given:
        raise UsageError(f"--resume runs the recorded scenario; {', '.join(given)} would "
                         f"change it (drop {'it' if len(given) == 1 else 'them'})")


def _inventory(args: argparse.Namespace, plan: ResumePlan) -> Inventory:
    """The run's inventory file; ``--inventory`` may only name that same file."""
    recorded = plan.inventory
    if not recorded:
        raise ClusterbenchError(f"{plan.run_dir}: environment.json names no inventory; "
                                f"cannot resume")
    if args.inventory and not _same_file(args.inventory, recorded):
        raise UsageError(f"--inventory {args.inventory}: the run used {recorded}; omit "
                         f"--inventory to use it")
    return inventory_from(args.inventory or recorded)


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


def _check_cluster(args: argparse.Namespace, plan: ResumePlan) -> None:
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
    measured = _calibration_json(calibration)
    if "calibration" not in environment:  # interrupted while calibrating: this one is the run's
        environment |= measured
    environment.setdefault("resumes", []).append({
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "missing": missing, "forced": forced, "calibration": measured["calibration"]})
    store.write_environment(environment)
    return environment
