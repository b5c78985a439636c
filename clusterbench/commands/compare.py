"""``clusterbench compare RUN_A RUN_B``: two runs side by side, changes flagged."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from clusterbench.commands.common import err, frame_records, out, print_json
from clusterbench.errors import UsageError
from clusterbench.results.store import RunStore

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
    differences, notes = environment_differences(env_a, env_b), code_notes(env_a, env_b)
    for line in differences:
        err().print(f"[yellow]warning: the runs differ[/] in {line}")
    for line in notes:
        err().print(f"note: {line}")
    table = compare_records(run_a.measured(), run_b.measured(), args.threshold)
    for torn in (run_a.torn, run_b.torn):
        if torn:
            err().print(f"warning: {torn}", markup=False, soft_wrap=True)
    counts = table["verdict"].value_counts()
    failed = 1 if args.fail_on_slower and counts.get("slower", 0) else 0
    if getattr(args, "html", None):
        _write_html(Path(args.html), table, run_a, run_b, args.threshold, differences, notes)
    if getattr(args, "json", False):
        print_json({"run_a": str(run_a.directory), "run_b": str(run_b.directory),
                    "threshold": args.threshold, "environment_differences": differences,
                    "notes": notes, "counts": {str(k): int(v) for k, v in counts.items()},
                    "points": frame_records(table)})
        return failed
    from clusterbench.report.compare import tally, verdict_rule

    out().print(_rich_table(table, run_a.directory.name, run_b.directory.name))
    out().print(f"{tally(table)} {verdict_rule(args.threshold, MIN_REPEATS)}")
    return failed


def _write_html(path: Path, table, run_a: RunStore, run_b: RunStore,  # noqa: ANN001
                threshold: float, differences: list[str], notes: list[str]) -> None:
    """``--html FILE``: the same comparison as a self-contained page."""
    from clusterbench.analysis.compare import MIN_REPEATS
    from clusterbench.report.compare import write_compare_html
    from clusterbench.results.store import refuse_overwriting

    refuse_overwriting(path, "--html", run_a, run_b)
    try:
        write_compare_html(path, table, run_a.directory.name, run_b.directory.name, threshold,
                           MIN_REPEATS, differences, notes)
    except OSError as exc:
        raise UsageError(f"--html {path}: cannot write it: {exc.strerror or exc}") from exc
    err().print(f"wrote {path}", markup=False)


def _run_dir(path: str) -> RunStore:
    return RunStore.existing(path)


def _rich_table(table, name_a: str, name_b: str) -> Table:  # noqa: ANN001
    """The terminal's view of the cells ``--html`` shows (:mod:`clusterbench.report.compare`)."""
    from clusterbench.report.compare import COMPARE_HEADERS, COMPARE_RIGHT, compare_rows

    view = Table(title=f"A = {name_a}   B = {name_b}")
    for header, right in zip(COMPARE_HEADERS, COMPARE_RIGHT, strict=True):
        view.add_column(header, justify="right" if right else "left")
    for cells, verdict in zip(compare_rows(table), table["verdict"], strict=True):
        view.add_row(*cells, style=VERDICT_STYLES.get(verdict))
    return view
