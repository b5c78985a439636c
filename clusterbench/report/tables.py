"""Terminal tables (rich) and the number formats shared with the Markdown report."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from rich.table import Table

#: Shown for a value that could not be computed (failed point, missing reference).
MISSING = "—"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_seconds(value: float) -> str:
    """Seconds with three significant digits, e.g. ``10.2``, ``0.0123``, ``1234``.

    Parameters
    ----------
    value
        A duration in seconds, or NaN.

    Returns
    -------
    str
        The formatted number, or :data:`MISSING` for NaN.
    """
    if _missing(value):
        return MISSING
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def format_ratio(value: float) -> str:
    """A speedup as ``1.93×``.

    Parameters
    ----------
    value
        A ratio, or NaN.

    Returns
    -------
    str
        Two decimals and a multiplication sign, or :data:`MISSING`.
    """
    return MISSING if _missing(value) else f"{value:.2f}×"


def format_percent(value: float) -> str:
    """A fraction as a whole percentage, ``0.96 -> 96%``.

    Parameters
    ----------
    value
        A fraction, or NaN.

    Returns
    -------
    str
        The percentage, or :data:`MISSING`.
    """
    return MISSING if _missing(value) else f"{value:.0%}"


def format_interval(low: float, high: float, unit: str = "") -> str:
    """A confidence interval as ``low–high`` (three significant digits), or :data:`MISSING`.

    Parameters
    ----------
    low, high
        The bounds (NaN when the point has fewer than two repeats).
    unit
        Appended to the text, e.g. ``"×"``.

    Returns
    -------
    str
        E.g. ``5.1–6.0`` or ``1.70–1.95×``.
    """
    if _missing(low) or _missing(high):
        return MISSING
    if unit == "×":
        return f"{low:.2f}–{high:.2f}×"
    return f"{format_seconds(low)}–{format_seconds(high)}{unit}"


def format_share(value: float) -> str:
    """A share of capacity: never printed above 100 % (above it the capacity was measured
    low, which the point's flag says); ``≥100%`` there.

    Parameters
    ----------
    value
        Speedup over the capacity-weighted ideal, or NaN.

    Returns
    -------
    str
        The percentage, ``≥100%`` above 1.0, or :data:`MISSING`.
    """
    if _missing(value):
        return MISSING
    return "≥100%" if value > 1.0 else format_percent(value)


#: Flag words of a point (also explained by :data:`FLAGS_LEGEND`).
NOISY_FLAG = "noisy"
UNDERESTIMATED_FLAG = "capacity underestimated"
CHANGED_FLAG = "worker set changed"
TOO_SMALL_FLAG = "too small"


def point_flags(row: Mapping[str, Any]) -> list[str]:
    """The flags of one summary row: noisy, capacity underestimated, worker set changed,
    problem too small.

    Parameters
    ----------
    row
        One row of :func:`clusterbench.analysis.speedup.summarize` as a mapping.

    Returns
    -------
    list of str
        Short flag words, possibly empty.
    """
    flags = []
    if bool(row.get("noisy")):
        flags.append(NOISY_FLAG)
    if bool(row.get("capacity_underestimated")):
        flags.append(UNDERESTIMATED_FLAG)
    changed = row.get("changed") or 0
    if changed:
        flags.append(f"{CHANGED_FLAG} ×{int(changed)}")
    if isinstance(row.get("too_small"), str) and row["too_small"]:
        flags.append(TOO_SMALL_FLAG)
    return flags


#: Which ideal each efficiency is measured against (table caption and report legend).
EFFICIENCY_LEGEND = (
    "eff. (capacity) = speedup / ideal (capacity), the capacity-weighted ideal: measured "
    "capacity of the point's workers (or of k processes on this machine) over the 1-worker "
    "point's; eff. (naive) = speedup / workers. CIs are 95 % bootstrap intervals."
)
FLAGS_LEGEND = (
    f"Flags: {NOISY_FLAG} = coefficient of variation above 10 %; {UNDERESTIMATED_FLAG} = "
    f"speedup more than 5 % above the capacity-weighted ideal (the capacity was measured "
    f"low: noise); {CHANGED_FLAG} ×N = N repeats ran on a different worker set than planned "
    f"and are not counted; {TOO_SMALL_FLAG} = fewer than 4 tasks per worker slot."
)


@dataclass(frozen=True)
class SummaryField:
    """One column of the per-point table: header, cell formatter, alignment."""

    header: str
    cell: Callable[[Mapping[str, Any]], str]
    right: bool = True


def _column(name: str, fmt: Callable[[Any], str] = str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: fmt(row[name])


#: The per-point table's columns, shared by the terminal and the Markdown report.
SUMMARY_FIELDS = [
    SummaryField("workload", _column("workload"), right=False),
    SummaryField("size", _column("size"), right=False),
    SummaryField("scheduler", _column("scheduler"), right=False),
    SummaryField("workers", _column("workers")),
    SummaryField("n", _column("n")),
    SummaryField("median s", _column("median", format_seconds)),
    SummaryField("95% CI s", lambda row: format_interval(row["ci_low"], row["ci_high"])),
    SummaryField("speedup", _column("speedup", format_ratio)),
    SummaryField("speedup 95% CI",
                 lambda row: format_interval(row["speedup_ci_low"], row["speedup_ci_high"], "×")),
    SummaryField("ideal (capacity)", _column("ideal_capacity", format_ratio)),
    SummaryField("eff. (capacity)", lambda row: format_share(row["efficiency_capacity"])),
    SummaryField("eff. (naive)", _column("efficiency", format_percent)),
    SummaryField("vs serial", _column("speedup_vs_serial", format_ratio)),
    SummaryField("failed", _column("failed")),
    SummaryField("flags", lambda row: ", ".join(point_flags(row)), right=False),
]


def _speedup_with_interval(row: Mapping[str, Any]) -> str:
    """``1.42× (1.32–1.66)``; the 1-worker reference point has no interval to show."""
    speedup = format_ratio(row["speedup"])
    low, high = row["speedup_ci_low"], row["speedup_ci_high"]
    if _missing(low) or _missing(high) or low == high:
        return speedup
    return f"{speedup} ({format_interval(low, high)})"


#: The terminal's narrower table (the 95 % CI of the time stays in the report and CSV):
#: 15 columns do not fit a terminal, and a truncated workload name is worse than a column less.
def _count_with_failures(row: Mapping[str, Any]) -> str:
    failed = int(row["failed"] or 0)
    return f"{row['n']}" + (f" ({failed} failed)" if failed else "")


_BY_HEADER = {field.header: field for field in SUMMARY_FIELDS}
TERMINAL_FIELDS = [
    *(_BY_HEADER[h] for h in ("workload", "size", "scheduler", "workers")),
    SummaryField("n", _count_with_failures),
    _BY_HEADER["median s"],
    SummaryField("speedup (95% CI)", _speedup_with_interval),
    *(_BY_HEADER[h] for h in ("ideal (capacity)", "eff. (capacity)", "eff. (naive)",
                              "vs serial", "flags")),
]


def summary_rows(summary: pd.DataFrame,
                 fields: Sequence[SummaryField] | None = None) -> list[list[str]]:
    """The summary formatted cell by cell, in :data:`SUMMARY_FIELDS` order.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    fields
        The columns (default :data:`SUMMARY_FIELDS`).

    Returns
    -------
    list of list of str
        One list of cells per point.
    """
    fields = SUMMARY_FIELDS if fields is None else fields
    return [[field.cell(row) for field in fields] for row in summary.to_dict("records")]


def speedup_table(summary: pd.DataFrame, title: str | None = None) -> Table:
    """A rich table of the per-point summary for the terminal.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    title
        Optional table title.

    Returns
    -------
    rich.table.Table
        Failed points are highlighted in red, flagged ones in yellow; the caption says
        which ideal each efficiency uses.
    """
    table = Table(title=title, caption=EFFICIENCY_LEGEND)
    for field in TERMINAL_FIELDS:
        # Names never truncated ("randomfores…" is two workloads); numbers and flags wrap.
        table.add_column(field.header, justify="right" if field.right else "left",
                         no_wrap=field.header in ("workload", "scheduler"),
                         min_width=len(UNDERESTIMATED_FLAG.split()[-1]) if field.header == "flags"
                         else None)
    for cells, row in zip(summary_rows(summary, TERMINAL_FIELDS), summary.to_dict("records"),
                          strict=True):
        style = "red" if row["failed"] else ("yellow" if point_flags(row) else None)
        table.add_row(*cells, style=style)
    return table


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool] | None = None
) -> str:
    """A GitHub-flavoured Markdown table (``tabulate`` is not a dependency).

    Parameters
    ----------
    headers
        Column titles.
    rows
        Cell values; converted with ``str``, pipes escaped, newlines flattened.
    right
        Per column, whether to right-align it (numbers); default all left.

    Returns
    -------
    str
        The table, without a trailing newline.
    """
    right = right or [False] * len(headers)
    rule = ["---:" if flag else "---" for flag in right]
    return "\n".join(_table_row(cells) for cells in [headers, rule, *rows])


def _table_row(cells: Sequence[Any]) -> str:
    escaped = (str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells)
    return "| " + " | ".join(escaped) + " |"
