"""``clusterbench compare RUN_A RUN_B``: two runs side by side, changes flagged."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rich.table import Table

from clusterbench.commands.common import err, out
from clusterbench.errors import UsageError
from clusterbench.results.store import RECORDS, RunStore

VERDICT_STYLES = {"slower": "red", "faster": "green", "unclear": "yellow",
                  "too few repeats": "yellow", "params differ": "yellow"}


def compare(args: argparse.Namespace) -> int:
    """Print the per-point comparison; 1 with ``--fail-on-slower`` when a point got slower."""
    from clusterbench.analysis.compare import (
        MIN_REPEATS,
        code_notes,
        compare_records,
        environment_differences,
    )

    if not 0 <= args.threshold < 1:
        raise UsageError(f"--threshold {args.threshold}: must be a fraction in [0, 1), e.g. 0.05")
    run_a, run_b = _run_dir(args.run_a), _run_dir(args.run_b)
    env_a, env_b = run_a.environment(), run_b.environment()
    for line in environment_differences(env_a, env_b):
        err().print(f"[yellow]warning: the runs differ[/] in {line}")
    for line in code_notes(env_a, env_b):
        err().print(f"note: {line}")
    table = compare_records(run_a.records(), run_b.records(), args.threshold)
    for torn in (run_a.torn, run_b.torn):
        if torn:
            err().print(f"warning: {torn}", markup=False)
    out().print(_rich_table(table, run_a.directory.name, run_b.directory.name))
    counts = table["verdict"].value_counts()
    always = ("slower", "faster", "unclear", "same")
    tally = ", ".join([f"{counts.get(v, 0)} {v}" for v in always]
                      + [f"{n} {v}" for v, n in sorted(counts.items()) if v not in always])
    out().print(f"{tally} (threshold {args.threshold:.0%}; a change counts only when every one "
                f"of ≥ {MIN_REPEATS} repeats of one run is slower than every one of the other's)")
    return 1 if args.fail_on_slower and counts.get("slower", 0) else 0


def _run_dir(path: str) -> RunStore:
    directory = Path(path)
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such run directory")
    if not (directory / RECORDS).exists():
        raise UsageError(f"{directory}: no {RECORDS} here; is this a run directory?")
    return RunStore(directory)


def _rich_table(table, name_a: str, name_b: str) -> Table:  # noqa: ANN001
    view = Table(title=f"A = {name_a}   B = {name_b}")
    for header in ("workload", "size", "scheduler", "workers", "n A", "median A s", "n B",
                   "median B s", "B / A", "verdict"):
        view.add_column(header, justify="left" if header in ("workload", "size", "scheduler",
                                                             "verdict") else "right")
    for row in table.to_dict("records"):
        view.add_row(row["workload"], row["size"], row["scheduler"], str(row["workers"]),
                     str(row["n_a"]), _seconds(row["median_a"]), str(row["n_b"]),
                     _seconds(row["median_b"]),
                     "—" if math.isnan(row["ratio"]) else f"{row['ratio']:.2f}×",
                     row["verdict"], style=VERDICT_STYLES.get(row["verdict"]))
    return view


def _seconds(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3g}"
