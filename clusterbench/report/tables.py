"""Terminal tables (rich) and the number formats shared with the Markdown report."""

from __future__ import annotations

import math

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


#: (header, summary column, formatter, right-aligned) for the per-point table.
SUMMARY_FIELDS = [
    ("workload", "workload", str, False),
    ("size", "size", str, False),
    ("scheduler", "scheduler", str, False),
    ("workers", "workers", str, True),
    ("n", "n", str, True),
    ("median s", "median", format_seconds, True),
    ("IQR s", "iqr", format_seconds, True),
    ("speedup", "speedup", format_ratio, True),
    ("efficiency", "efficiency", format_percent, True),
    ("vs serial", "speedup_vs_serial", format_ratio, True),
    ("failed", "failed", str, True),
]


def summary_rows(summary: pd.DataFrame) -> list[list[str]]:
    """The summary formatted cell by cell, in :data:`SUMMARY_FIELDS` order.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.

    Returns
    -------
    list of list of str
        One list of cells per point.
    """
    return [
        [fmt(row[column]) for _, column, fmt, _ in SUMMARY_FIELDS]
        for row in summary.to_dict("records")
    ]


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
        Failed points are highlighted in red.
    """
    table = Table(title=title)
    for header, _, _, right in SUMMARY_FIELDS:
        table.add_column(header, justify="right" if right else "left")
    for cells, count in zip(summary_rows(summary), summary["failed"], strict=True):
        table.add_row(*cells, style="red" if count else None)
    return table
