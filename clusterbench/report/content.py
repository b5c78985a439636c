"""The content of a run's report, once: the sections ``report.md`` and ``report.html``
are rendered from (:func:`report_sections`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from clusterbench.report.document import (
    Code,
    CodeBlock,
    Em,
    Heading,
    Image,
    Item,
    Items,
    Link,
    Paragraph,
    Section,
    Span,
    Strong,
    section,
    table,
)
from clusterbench.report.plots import straggler_points
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
    point_flags,
    summary_rows,
)
from clusterbench.report.terminal import run_warnings

MODES_IMAGE = "modes.png"
SPEEDUP_IMAGE = "speedup.png"
SPEEDUP_SVG = "speedup.svg"
EFFICIENCY_IMAGE = "efficiency.png"
STRAGGLERS_IMAGE = "stragglers.png"
_SCALARS = (str, int, float, bool, type(None))


def report_sections(summary: pd.DataFrame, fits: pd.DataFrame,
                    environment: Mapping[str, Any] | None, run_id: str,
                    profiles: Sequence[str] = ()) -> list[Section]:
    """Every section of a run's report, in the Markdown report's order.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    fits
        Output of :func:`clusterbench.analysis.fits.scaling_fits`.
    environment
        Contents of ``environment.json``: ``hosts`` becomes the hosts table,
        ``calibration`` the capacity and overhead sections, ``dashboard`` a link, the rest
        is rendered generically, whatever its keys.
    run_id
        Shown in the title.
    profiles
        Files of the run directory holding ``distributed`` performance reports (relative
        paths), linked from the report.

    Returns
    -------
    list of Section
        Keys ``title, overview, links, verdict, warnings, results, hosts, modes, capacity,
        overheads, fits, karp-flatt, plots, failures, environment``; empty sections have
        no blocks.
    """
    environment = environment or {}
    calibration = environment.get("calibration")
    calibration = calibration if isinstance(calibration, Mapping) else None
    return [
        section("title", Heading(1, ["clusterbench run ", Code(run_id)])),
        section("overview", Paragraph(_overview(summary))),
        _links_section(environment, profiles),
        verdict_section(summary, fits),
        _warnings_section(summary),
        _results_section(summary),
        hosts_section(environment),
        _modes_section(summary),
        _stragglers_section(summary),
        capacity_section(summary, calibration),
        _overhead_section(calibration),
        fits_section(fits),
        karp_flatt_section(summary),
        _plots_section(),
        _failures_section(summary),
        _environment_section({k: v for k, v in environment.items()
                              if k not in ("calibration", "hosts")}),
    ]


def _overview(summary: pd.DataFrame) -> str:
    points, timed, failed = len(summary), int(summary["n"].sum()), int(summary["failed"].sum())
    return f"{points} points, {timed} verified timed repeats, {failed} failed repeats."


def _links_section(environment: Mapping[str, Any], profiles: Sequence[str]) -> Section:
    """The cluster's dashboard (when the run's cluster had one) and the performance reports."""
    items = []
    dashboard = environment.get("dashboard")
    if isinstance(dashboard, str) and dashboard:
        items.append(Item(["Dask dashboard of the run's cluster (live only while it runs): ",
                           Link(dashboard, dashboard)]))
    if profiles:
        spans: list[Span] = ["Performance reports (", Code("--profile"), "): "]
        for number, name in enumerate(profiles):
            spans += [", "] if number else []
            spans.append(Link(name, name))
        items.append(Item(spans))
    if not items:
        return section("links")
    return section("links", Items(tuple(items)))


def _environment_section(environment: Mapping[str, Any]) -> Section:
    if not environment:
        return section("environment", Heading(2, "Environment"),
                       Paragraph([Em("No environment.json recorded.")]))
    scalars = [(k, v) for k, v in environment.items() if isinstance(v, _SCALARS)]
    blocks: list[Any] = [Heading(2, "Environment")]
    if scalars:
        blocks.append(Items(tuple(Item([Strong(str(key)), f": {value}"])
                                  for key, value in scalars)))
    for key, value in environment.items():
        if not isinstance(value, _SCALARS):
            blocks += _environment_block(key, value)
    return section("environment", *blocks)


def _environment_block(key: str, value: Any) -> list[Any]:
    """A flat mapping (e.g. ``packages``) as a two-column table, anything else as JSON."""
    if isinstance(value, Mapping) and all(isinstance(v, _SCALARS) for v in value.values()):
        headers = ["package", "version"] if key == "packages" else ["key", "value"]
        body: Any = table(headers, sorted((str(k), v) for k, v in value.items()),
                          name=f"environment-{key}")
    else:
        body = CodeBlock(json.dumps(value, indent=2, sort_keys=True, default=str), "json")
    return [Heading(3, str(key)), body]


def _results_section(summary: pd.DataFrame) -> Section:
    if summary.empty:
        return section("results", Heading(2, "Results"), Paragraph([Em("No records.")]))
    legend: list[Span] = [
        "Times are medians over counted repeats (verified, on the planned worker set). "
        "speedup = work per second over the same scheduler's 1-worker point; "
        f"{EFFICIENCY_LEGEND} vs serial = the ", Code("synchronous"),
        " point's time / this time."]
    classes = ["failed" if row["failed"] else ("flagged" if point_flags(row) else "")
               for row in summary.to_dict("records")]
    return section("results", Heading(2, "Results"), Paragraph(legend), Paragraph(FLAGS_LEGEND),
                   table([field.header for field in SUMMARY_FIELDS], summary_rows(summary),
                         [field.right for field in SUMMARY_FIELDS], name="results",
                         row_classes=classes))


def _warnings_section(summary: pd.DataFrame) -> Section:
    from clusterbench.analysis.modes import MAX_OVERHEAD_SHARE, too_fine

    items = [Item([Strong("tasks too fine"),
                   f": {row['workload']} ({row['size']}), {row['scheduler']} ×"
                   f"{row['workers']}: {row['tasks']:.0f} tasks × "
                   f"{row['task_overhead_s'] * 1e6:.0f} µs overhead ≈ {row['overhead_share']:.1%}"
                   f" of {row['median']:.3g} s (limit {MAX_OVERHEAD_SHARE:.0%}); use bigger "
                   f"tasks"])
             for row in too_fine(summary).to_dict("records")]
    # The other warnings read as on the terminal; "tasks too fine" has its detailed form above.
    items += [Item(line) for line in run_warnings(summary)
              if not line.startswith("tasks too fine")]
    if not items:
        return section("warnings")
    return section("warnings", Heading(2, "Warnings"), Items(tuple(items)))


def _modes_section(summary: pd.DataFrame) -> Section:
    from clusterbench.analysis.modes import widest_points

    widest = widest_points(summary[summary["n"] > 0])
    if widest.empty:
        return section("modes")
    rows = [[r["workload"], r["size"], r["scheduler"], r["executor"] or MISSING, r["workers"],
             f"{r['median']:.3g}", format_ratio(r["speedup_vs_serial"]), r["serial_reference"]]
            for r in widest.to_dict("records")]
    headers = ["workload", "size", "mode", "what ran", "workers", "median s", "vs serial",
               "serial reference"]
    note: list[Span] = ["Each mode at its widest point. \"vs serial\" divides the serial (",
            Code("synchronous"), ") time of the reference workload by the mode's time."]
    return section("modes", Heading(2, "Execution modes"), Paragraph(note),
                   table(headers, rows, [False] * 4 + [True] * 3 + [False], name="modes"),
                   Image(MODES_IMAGE, "modes"))


def _stragglers_section(summary: pd.DataFrame) -> Section:
    """Per cluster point with 2+ workers: who finished last, and how long the others
    waited for it (medians over counted repeats, from the scheduler's task stream), as a
    table and as one small chart per point."""
    rows = []
    for row in straggler_points(summary):
        activity = row["worker_activity"]
        last = min(activity, key=lambda name: activity[name].get("idle_end_s", math.inf))
        waits = sorted(((figures.get("idle_end_s", math.nan), name)
                        for name, figures in activity.items() if name != last), reverse=True)
        rows.append([row["workload"], row["size"], row["scheduler"], row["workers"],
                     f"{row['median']:.3g}", last, _tasks_busy(activity[last]),
                     ", ".join(f"{name} {wait:.2g} s" for wait, name in waits[:4])
                     + (f" (+{len(waits) - 4})" if len(waits) > 4 else "")])
    if not rows:
        return section("stragglers")
    note: list[Span] = [
        "Who held each cluster point up: the worker that finished its last task last, its "
        "tasks and compute seconds, and how long the others sat idle at the end (longest "
        "first). Medians over the counted repeats, from the scheduler's task stream; ",
        Code("worker_activity"), " in records.jsonl has every worker. The chart draws "
        "each point's workers: the bar ends where the worker's last task ended (red: the "
        "one that finished last), the hatched part is its wait for the others."]
    headers = ["workload", "size", "mode", "workers", "median s", "finished last",
               "its tasks / busy s", "idle at the end"]
    return section("stragglers", Heading(2, "Stragglers"), Paragraph(note),
                   table(headers, rows, [False] * 3 + [True, True, False, True, False],
                         name="stragglers"),
                   Image(STRAGGLERS_IMAGE, "stragglers"))


def _tasks_busy(figures: Mapping[str, float]) -> str:
    return f"{figures.get('tasks', math.nan):.0f} / {figures.get('busy_s', math.nan):.3g}"


def _overhead_section(calibration: Mapping[str, Any] | None) -> Section:
    from clusterbench.analysis.modes import overhead_rows

    rows = overhead_rows(calibration)
    if not rows or calibration is None:  # no calibration has no rows
        return section("overheads")
    overheads = table(["mode", "workers", "µs per task"],
                      [[m, w, f"{us:.0f}"] for m, w, us in rows], [False, True, True],
                      name="overheads")
    trips = calibration.get("round_trip") or {}
    tasks = calibration.get("overhead_tasks", "?")
    blocks: list[Any] = [
        Heading(2, "Per-task overhead (measured)"),
        Paragraph(f"Best of 3 rounds of {tasks} empty tasks per mode, submission to result."),
        overheads]
    if trips:
        blocks += [Paragraph(["Scheduler ↔ worker round trip (", Code("client.run"), "):"]),
                   table(["host", "round trip ms"],
                         [[h, f"{t * 1e3:.2f}"] for h, t in sorted(trips.items())],
                         [False, True], name="round-trips")]
    return section("overheads", *blocks)


def _plots_section() -> Section:
    return section("plots", Heading(2, "Plots"), Image(SPEEDUP_IMAGE, "speedup", SPEEDUP_SVG),
                   Image(EFFICIENCY_IMAGE, "efficiency"))


def _failures_section(summary: pd.DataFrame) -> Section:
    failed = summary[summary["failed"] > 0]
    if failed.empty:
        return section("failures", Heading(2, "Failures"), Paragraph("No failed repeats."))
    items = []
    for row in failed.to_dict("records"):
        total = int(row["failed"]) + int(row["n"])
        messages = row.get("errors") or ()
        items.append(Item(
            [Strong(f"{row['workload']} ({row['size']})"),
             f", {row['scheduler']}, {row['workers']} workers: {row['failed']} of {total} "
             f"repeats failed"],
            tuple(" ".join(message.split()) for message in messages)))
    return section("failures", Heading(2, "Failures"), Items(tuple(items)))
