"""What the terminal shows after a run and after ``clusterbench report``: the per-point
table, one verdict sentence per curve and the warnings a user must not miss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape

from clusterbench.analysis.modes import MAX_OVERHEAD_SHARE, too_fine
from clusterbench.analysis.stats import NOISY_CV
from clusterbench.analysis.verdict import verdicts
from clusterbench.report.tables import format_ratio, speedup_table

WARNING = "[yellow]warning:[/]"
#: What to do about a problem too small for its worker count.
TOO_SMALL_ADVICE = "use --size full, or --weak to grow the problem with the workers"


def print_run_summary(summary: pd.DataFrame, fits: pd.DataFrame, out_console: Console,
                      err_console: Console) -> None:
    """Print the table and verdicts to *out_console* and the warnings to *err_console*.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    fits
        Output of :func:`clusterbench.analysis.fits.scaling_fits`.
    out_console, err_console
        Where results and warnings go (stdout and stderr in the CLI).
    """
    out_console.print(speedup_table(summary))
    for verdict in verdicts(summary, fits):
        out_console.print(escape(verdict.sentence))
    for line in run_warnings(summary):
        err_console.print(f"{WARNING} {escape(line)}")


def run_warnings(summary: pd.DataFrame) -> list[str]:
    """Warning lines (plain text) about a run's points, for the terminal and the report.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.

    Returns
    -------
    list of str
        Tasks too fine, problem too small, worker set changed, capacity underestimated
        and noisy points, in that order.
    """
    rows = summary.to_dict("records")
    lines = [_too_fine(row) for row in too_fine(summary).to_dict("records")]
    lines += [_too_small(row) for row in rows if _text(row.get("too_small"))]
    lines += [_changed(row) for row in rows if row.get("changed")]
    lines += [_underestimated(row) for row in rows if bool(row.get("capacity_underestimated"))]
    noisy = [row for row in rows if bool(row.get("noisy"))]
    if noisy:
        lines.append(_noisy(noisy))
    return lines


def _point(row: Mapping[str, Any]) -> str:
    return f"{row['workload']}[{row['size']}] {row['scheduler']}×{row['workers']}"


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _too_fine(row: Mapping[str, Any]) -> str:
    return (f"tasks too fine in {_point(row)}: {row['tasks']:.0f} tasks cost "
            f"≈{row['overhead_share']:.1%} of the time in scheduling overhead "
            f"(limit {MAX_OVERHEAD_SHARE:.0%})")


def _too_small(row: Mapping[str, Any]) -> str:
    return (f"problem too small in {_point(row)}: {row['too_small']}, so workers idle "
            f"at the end of each repeat; {TOO_SMALL_ADVICE}")


def _changed(row: Mapping[str, Any]) -> str:
    notes = "; ".join(row.get("changes") or ()) or "the executing workers differed from the plan"
    return (f"worker set changed in {int(row['changed'])} repeat(s) of {_point(row)}: "
            f"{notes}; not counted")


def _underestimated(row: Mapping[str, Any]) -> str:
    return (f"capacity underestimated (noise) in {_point(row)}: speedup "
            f"{format_ratio(row['speedup'])} is above the capacity-weighted ideal "
            f"{format_ratio(row['ideal_capacity'])}")


def _noisy(rows: list[Mapping[str, Any]]) -> str:
    """One line for all noisy points: a list of them is what the user acts on."""
    points = ", ".join(f"{_point(row)} {row['cv']:.0%}" for row in rows)
    return (f"{len(rows)} noisy point(s), coefficient of variation above {NOISY_CV:.0%}: "
            f"{points}; more repeats (--repeats, or --stabilize N) would narrow their "
            f"confidence intervals")
