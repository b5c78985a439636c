"""``clusterbench run`` and ``clusterbench report``: command-line adapters over
:mod:`clusterbench.api`."""

from __future__ import annotations

import argparse
from pathlib import Path

from clusterbench.api import (  # noqa: F401 (re-exported: commands.resume uses them)
    _backends,
    _calibrate,
    _calibration_json,
    _check_workloads,
    _execute,
    _finish,
    _maximum,
    _warn_torn,
    _warn_unwritten,
    close_backends,
    note_resume,
    quiet_interrupted_gather,
    run_scenario,
)
from clusterbench.commands.common import err, out
from clusterbench.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Plan, calibrate, execute and report one scenario; returns 1 when any point failed.

    ``--resume RUN_DIR`` completes an interrupted run instead (:mod:`.resume`)."""
    if args.resume:
        from clusterbench.commands.resume import resume

        return resume(args)
    _require_scenario(args)
    result = run_scenario(args.scenario, inventory=args.inventory, workloads=args.workloads,
                          size=args.size, schedulers=args.schedulers, workers=args.workers,
                          repeats=args.repeats, warmup=args.warmup, seed=args.seed,
                          order=args.order, order_points=args.order_points,
                          stabilize=args.stabilize, retries=args.retries, weak=args.weak,
                          results_dir=args.results_dir,
                          insecure=getattr(args, "insecure", False),
                          scheduler_address=args.scheduler_address, attach=args.attach)
    return result.exit_code


def _require_scenario(args: argparse.Namespace) -> None:
    if args.scenario is None:
        raise UsageError("run: give a scenario (e.g. scaling, or a YAML file) or "
                         "--resume RUN_DIR")
    if args.force:
        raise UsageError("--force goes with --resume RUN_DIR only")


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

