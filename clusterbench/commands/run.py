"""``clusterbench run`` and ``clusterbench report``: command-line adapters over
:mod:`clusterbench.api`."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from clusterbench.api import RunResult, run_scenario
from clusterbench.api.result import warn_torn, warn_unwritten
from clusterbench.commands.common import err, frame_records, out, print_json, stdout_to_stderr
from clusterbench.errors import UsageError
from clusterbench.runner.scenario import Scenario


def run(args: argparse.Namespace) -> int:
    """Plan, calibrate, execute and report one scenario; returns 1 when any point failed.

    ``--resume RUN_DIR`` completes an interrupted run instead (:mod:`.resume`).  With
    ``--json`` stdout holds only the summary as JSON (:func:`summary_json`); the tables and
    everything else go to stderr."""
    json_out = getattr(args, "json", False)
    if args.resume:
        from clusterbench.commands.resume import resume

        if json_out:
            raise UsageError("--json goes with a new run, not with --resume")
        return resume(args)
    _require_scenario(args)
    with stdout_to_stderr() if json_out else contextlib.nullcontext():
        result = run_scenario(_scenario(args), inventory=args.inventory,
                              workloads=args.workloads, size=args.size,
                              schedulers=args.schedulers, workers=args.workers,
                              repeats=args.repeats, warmup=args.warmup, seed=args.seed,
                              order=args.order, order_points=args.order_points,
                              stabilize=args.stabilize, retries=args.retries, weak=args.weak,
                              results_dir=args.results_dir,
                              insecure=getattr(args, "insecure", False),
                              scheduler_address=args.scheduler_address, attach=args.attach)
    if json_out:
        print_json(summary_json(result))
    return result.exit_code


def summary_json(result: RunResult) -> dict:
    """What ``run --json`` prints: the run directory, the failed count, the exit code and
    the summary's rows (one per point, the columns of ``summary.csv``)."""
    return {"run_directory": str(result.directory), "failed": result.failed,
            "exit_code": result.exit_code, "summary": frame_records(result.summary)}


def _require_scenario(args: argparse.Namespace) -> None:
    if args.scenario is None:
        raise UsageError("run: give a scenario (e.g. scaling, or a YAML file) or "
                         "--resume RUN_DIR")
    if args.force:
        raise UsageError("--force goes with --resume RUN_DIR only")


def _scenario(args: argparse.Namespace) -> str | Scenario:
    """The scenario to run: its name or file as given, loaded here when ``--profile`` asks
    for a performance report per distributed point (a scenario file may say
    ``profile: true``; see :mod:`clusterbench.runner.profile`)."""
    if not getattr(args, "profile", False):
        return args.scenario
    import importlib.util

    from clusterbench.runner.scenario import load_scenario, validated

    if importlib.util.find_spec("bokeh") is None:
        raise UsageError("--profile needs bokeh, on this machine and the scheduler's "
                         "(pip install 'bokeh>=3.1')")
    return validated({"profile": True}, "command line", base=load_scenario(args.scenario))


def report(args: argparse.Namespace) -> int:
    """Redraw summary.csv, plots and report.md of a run from records.jsonl alone."""
    from clusterbench.report.build import build_report
    from clusterbench.report.terminal import print_run_summary
    from clusterbench.results.store import RunStore

    run_dir = Path(args.run_dir)
    store = RunStore.existing(run_dir)
    store.measured()  # before anything is redrawn over the old report; sets a torn line aside
    built = build_report(run_dir)
    warn_torn(store.torn or built.torn)
    warn_unwritten(built.warnings)
    print_run_summary(built.summary, built.fits, out(), err())
    written = [p.name for p in built.files if p not in built.unwritten]
    out().print(f"wrote {', '.join(written) or 'nothing'} in {run_dir}")
    return 0

