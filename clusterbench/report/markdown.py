"""The Markdown report of one run (``report.md``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from clusterbench.report.sections import (
    capacity_section,
    fits_section,
    hosts_section,
    karp_flatt_section,
    verdict_section,
)
from clusterbench.report.tables import (
    EFFICIENCY_LEGEND,
    FLAGS_LEGEND,
    MISSING,
    SUMMARY_FIELDS,
    format_ratio,
    markdown_table,
    summary_rows,
)
from clusterbench.report.terminal import run_warnings

__all__ = ["markdown_table", "render_report"]

MODES_IMAGE = "modes.png"
SPEEDUP_IMAGE = "speedup.png"
SPEEDUP_SVG = "speedup.svg"
EFFICIENCY_IMAGE = "efficiency.png"
_SCALARS = (str, int, float, bool, type(None))


def render_report(
    summary: pd.DataFrame, fits: pd.DataFrame, environment: Mapping[str, Any], run_id: str
) -> str:
    """Render the whole report of a run as Markdown.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    fits
        Output of :func:`clusterbench.analysis.fits.scaling_fits`.
    environment
        Contents of ``environment.json``: ``hosts`` becomes the hosts table,
        ``calibration`` the capacity and overhead sections, the rest is rendered
        generically, whatever its keys.
    run_id
        Shown in the title.

    Returns
    -------
    str
        The Markdown text; images are linked relative to the run directory.
    """
    calibration = environment.get("calibration") if environment else None
    sections = [
        f"# clusterbench run `{run_id}`",
        _overview(summary),
        verdict_section(summary, fits),
        _warnings_section(summary),
        _results_section(summary),
        hosts_section(environment),
        _modes_section(summary),
        capacity_section(summary, calibration),
        _overhead_section(calibration),
        fits_section(fits),
        karp_flatt_section(summary),
        _plots_section(),
        _failures_section(summary),
        _environment_section({k: v for k, v in (environment or {}).items()
                              if k not in ("calibration", "hosts")}),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _overview(summary: pd.DataFrame) -> str:
    points, timed, failed = len(summary), int(summary["n"].sum()), int(summary["failed"].sum())
    return f"{points} points, {timed} verified timed repeats, {failed} failed repeats."


def _environment_section(environment: Mapping[str, Any]) -> str:
    if not environment:
        return "## Environment\n\n_No environment.json recorded._"
    scalars = [(k, v) for k, v in environment.items() if isinstance(v, _SCALARS)]
    parts = ["## Environment", "\n".join(f"- **{key}**: {value}" for key, value in scalars)]
    for key, value in environment.items():
        if not isinstance(value, _SCALARS):
            parts.append(_environment_block(key, value))
    return "\n\n".join(part for part in parts if part)


def _environment_block(key: str, value: Any) -> str:
    """A flat mapping (e.g. ``packages``) as a two-column table, anything else as JSON."""
    if isinstance(value, Mapping) and all(isinstance(v, _SCALARS) for v in value.values()):
        headers = ["package", "version"] if key == "packages" else ["key", "value"]
        body = markdown_table(headers, sorted((k, v) for k, v in value.items()))
    else:
        body = "```json\n" + json.dumps(value, indent=2, sort_keys=True, default=str) + "\n```"
    return f"### {key}\n\n{body}"


def _results_section(summary: pd.DataFrame) -> str:
    if summary.empty:
        return "## Results\n\n_No records._"
    table = markdown_table(
        [field.header for field in SUMMARY_FIELDS],
        summary_rows(summary),
        [field.right for field in SUMMARY_FIELDS],
    )
    legend = (
        "Times are medians over counted repeats (verified, on the planned worker set). "
        "speedup = work per second over the same scheduler's 1-worker point; "
        f"{EFFICIENCY_LEGEND} vs serial = the `synchronous` point's time / this time."
    )
    return f"## Results\n\n{legend}\n\n{FLAGS_LEGEND}\n\n{table}"


def _warnings_section(summary: pd.DataFrame) -> str:
    from clusterbench.analysis.modes import MAX_OVERHEAD_SHARE, too_fine

    items = [f"- **tasks too fine**: {row['workload']} ({row['size']}), {row['scheduler']} ×"
             f"{row['workers']}: {row['tasks']:.0f} tasks × "
             f"{row['task_overhead_s'] * 1e6:.0f} µs overhead ≈ {row['overhead_share']:.1%} of "
             f"{row['median']:.3g} s (limit {MAX_OVERHEAD_SHARE:.0%}); use bigger tasks"
             for row in too_fine(summary).to_dict("records")]
    # The other warnings read as on the terminal; "tasks too fine" has its detailed form above.
    items += [f"- {line}" for line in run_warnings(summary)
              if not line.startswith("tasks too fine")]
    if not items:
        return ""
    return "## Warnings\n\n" + "\n".join(items)


def _modes_section(summary: pd.DataFrame) -> str:
    from clusterbench.analysis.modes import widest_points

    widest = widest_points(summary[summary["n"] > 0])
    if widest.empty:
        return ""
    rows = [[r["workload"], r["size"], r["scheduler"], r["executor"] or MISSING, r["workers"],
             f"{r['median']:.3g}", format_ratio(r["speedup_vs_serial"]), r["serial_reference"]]
            for r in widest.to_dict("records")]
    headers = ["workload", "size", "mode", "what ran", "workers", "median s", "vs serial",
               "serial reference"]
    table = markdown_table(headers, rows, [False] * 4 + [True] * 3 + [False])
    return (f"## Execution modes\n\nEach mode at its widest point. \"vs serial\" divides the "
            f"serial (`synchronous`) time of the reference workload by the mode's time.\n\n"
            f"{table}\n\n![modes]({MODES_IMAGE})")


def _overhead_section(calibration: Mapping[str, Any] | None) -> str:
    from clusterbench.analysis.modes import overhead_rows

    rows = overhead_rows(calibration)
    if not rows or calibration is None:  # no calibration has no rows
        return ""
    table = markdown_table(["mode", "workers", "µs per task"],
                           [[m, w, f"{us:.0f}"] for m, w, us in rows], [False, True, True])
    trips = calibration.get("round_trip") or {}
    trip_table = markdown_table(["host", "round trip ms"],
                                [[h, f"{t * 1e3:.2f}"] for h, t in sorted(trips.items())],
                                [False, True]) if trips else ""
    tasks = calibration.get("overhead_tasks", "?")
    return (f"## Per-task overhead (measured)\n\nBest of 3 rounds of {tasks} empty tasks "
            f"per mode, submission to result.\n\n{table}"
            + (f"\n\nScheduler ↔ worker round trip (`client.run`):\n\n{trip_table}"
               if trip_table else ""))


def _plots_section() -> str:
    return (
        f"## Plots\n\n![speedup]({SPEEDUP_IMAGE})\n\n([SVG]({SPEEDUP_SVG}))\n\n"
        f"![efficiency]({EFFICIENCY_IMAGE})"
    )


def _failures_section(summary: pd.DataFrame) -> str:
    failed = summary[summary["failed"] > 0]
    if failed.empty:
        return "## Failures\n\nNo failed repeats."
    items = []
    for row in failed.to_dict("records"):
        total = int(row["failed"]) + int(row["n"])
        items.append(
            f"- **{row['workload']} ({row['size']})**, {row['scheduler']}, "
            f"{row['workers']} workers: {row['failed']} of {total} repeats failed"
        )
        messages = row.get("errors") or ()
        items.extend("  - " + " ".join(message.split()) for message in messages)
    return "## Failures\n\n" + "\n".join(items)
