"""``clusterbench run --resume RUN_DIR``: the command-line side of
:func:`clusterbench.api.resume_run`."""

from __future__ import annotations

import argparse

from clusterbench.api.resume import resume_run
from clusterbench.errors import UsageError

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
    return resume_run(args.resume, inventory=args.inventory, force=args.force,
                      scheduler_address=args.scheduler_address, attach=args.attach,
                      insecure=getattr(args, "insecure", False)).exit_code


def _refuse_changing_options(args: argparse.Namespace) -> None:
    given = [flag for dest, flag in CHANGING.items() if getattr(args, dest, None)
             not in (None, False)]
    if given:
        raise UsageError(f"--resume runs the recorded scenario; {', '.join(given)} would "
                         f"change it (drop {'it' if len(given) == 1 else 'them'})")
