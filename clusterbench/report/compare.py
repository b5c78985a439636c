"""The side-by-side comparison of two runs: its cells and tally for the terminal
(``clusterbench compare A B``) and its page (``--html``).

Its content is :func:`clusterbench.analysis.compare.compare_records`'s table and the
environment lines the terminal prints; :func:`compare_rows` and :func:`tally` format it for
both, :func:`compare_sections` turns it into report blocks, rendered by
:mod:`clusterbench.report.html` like a run's report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from clusterbench.osutil import atomic_write
from clusterbench.report.document import (
    Code,
    Heading,
    Item,
    Items,
    Paragraph,
    Section,
    section,
    table,
)
from clusterbench.report.tables import MISSING

#: Columns of the comparison table (as on the terminal).
COMPARE_HEADERS = ("workload", "size", "scheduler", "workers", "n A", "median A s", "n B",
                   "median B s", "B / A", "verdict")
COMPARE_RIGHT = (False, False, False, True, True, True, True, True, True, False)
#: Verdicts always counted in the tally, even at 0.
TALLIED = ("slower", "faster", "unclear", "same")


def tally(table_: pd.DataFrame) -> str:
    """``5 slower, 3 faster, 9 unclear, 5 same`` (+ any other verdict that occurs)."""
    counts = table_["verdict"].value_counts()
    return ", ".join([f"{counts.get(v, 0)} {v}" for v in TALLIED]
                     + [f"{n} {v}" for v, n in sorted(counts.items()) if v not in TALLIED])


def verdict_rule(threshold: float, min_repeats: int) -> str:
    """What the tally's verdicts mean, e.g. ``(threshold 5%; a change counts only when ...)``."""
    return (f"(threshold {threshold:.0%}; a change counts only when every one of "
            f"≥ {min_repeats} repeats of one run is slower than every one of the other's)")


def compare_rows(table_: pd.DataFrame) -> list[list[str]]:
    """The comparison formatted cell by cell, in :data:`COMPARE_HEADERS` order."""
    return [[str(row["workload"]), str(row["size"]), str(row["scheduler"]),
             str(row["workers"]), str(row["n_a"]), _seconds(row["median_a"]), str(row["n_b"]),
             _seconds(row["median_b"]),
             MISSING if _nan(row["ratio"]) else f"{row['ratio']:.2f}×", str(row["verdict"])]
            for row in table_.to_dict("records")]


def _nan(value: float) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _seconds(value: float) -> str:
    return MISSING if _nan(value) else f"{value:.3g}"


def compare_sections(table_: pd.DataFrame, name_a: str, name_b: str, threshold: float,
                     min_repeats: int, differences: Sequence[str] = (),
                     notes: Sequence[str] = ()) -> list[Section]:
    """The comparison as report sections: title, warnings, table and tally.

    Parameters
    ----------
    table_
        Output of :func:`clusterbench.analysis.compare.compare_records`.
    name_a, name_b
        The runs' directory names.
    threshold
        The relative change counted as a change.
    min_repeats
        Repeats each run needs before a change is called.
    differences, notes
        :func:`~clusterbench.analysis.compare.environment_differences` and
        :func:`~clusterbench.analysis.compare.code_notes`.
    """
    rule = " " + verdict_rule(threshold, min_repeats)
    warnings = [Item(f"the runs differ in {line}") for line in differences]
    warnings += [Item(f"note: {line}") for line in notes]
    classes = ["verdict-" + str(v).replace(" ", "-") for v in table_["verdict"]]
    return [
        section("title", Heading(1, ["clusterbench compare ", Code(name_a), " → ",
                                     Code(name_b)])),
        section("overview", Paragraph(["A = ", Code(name_a), ", B = ", Code(name_b),
                                       ". B / A > 1: B is slower."])),
        section("warnings", Heading(2, "Environment differences"), Items(tuple(warnings)))
        if warnings else Section("warnings"),
        section("comparison", Heading(2, "Per point"), Paragraph(tally(table_) + rule),
                table(COMPARE_HEADERS, compare_rows(table_), COMPARE_RIGHT, name="compare",
                      row_classes=classes)),
    ]


def write_compare_html(path: Path, table_: pd.DataFrame, name_a: str, name_b: str,
                       threshold: float, min_repeats: int, differences: Sequence[str] = (),
                       notes: Sequence[str] = ()) -> Path:
    """Write the comparison page to *path* whole or not at all; *path*."""
    from clusterbench.report.html import render_page

    sections = compare_sections(table_, name_a, name_b, threshold, min_repeats, differences,
                                notes)
    atomic_write(Path(path), render_page(sections, f"clusterbench compare {name_a} {name_b}"))
    return Path(path)
