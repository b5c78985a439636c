"""Speedup and efficiency plots.

Figures are built as :class:`matplotlib.figure.Figure` objects attached to an
Agg canvas, never through ``pyplot``'s figure functions: no figure enters its
registry, so importing this module is side-effect free and safe in threads and
under a user's interactive session (pandas' bar plotting imports pyplot but
draws on the axes it is given).

Each figure is drawn once (``*_figure``) and saved as often as needed: PNG and SVG files
(:func:`save_figure`) and the SVG text that ``report.html`` inlines (:func:`figure_svg`).
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from clusterbench.analysis.speedup import SERIAL_SCHEDULER
from clusterbench.constants import SCHEDULERS

NO_DATA = "no verified points to plot"
NO_BASELINE = "no parallel scheduler has a verified 1-worker point to compare with"
_PANEL_COLUMNS = 3
_PANEL_SIZE = (4.8, 3.8)
_IDEAL_STYLE: dict[str, Any] = {"color": "0.5", "linestyle": "--", "linewidth": 1, "label": "ideal"}

Panels = dict[tuple[str, str], list[tuple[str, pd.DataFrame]]]


def plot_speedup(summary: pd.DataFrame, path_stem: Path) -> list[Path]:
    """Draw speedup against workers; write ``<stem>.png`` and ``<stem>.svg``.

    Each scheduler's curve carries error bars from the speedup's 95 % bootstrap CI;
    noisy points are ringed.  Two ideals: the naive diagonal (k workers = k×) and the
    capacity-weighted ideal, one dotted line per distinct ideal curve (threads and
    processes share the machine's; a distributed set has its own).

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    path_stem
        Output path without suffix, e.g. ``run_dir / "speedup"``.

    Returns
    -------
    list of pathlib.Path
        The PNG and SVG files written.
    """
    figure = speedup_figure(summary)
    stem = Path(path_stem)
    return [save_figure(figure, stem.with_suffix(suffix)) for suffix in (".png", ".svg")]


def plot_efficiency(summary: pd.DataFrame, path: Path) -> Path:
    """Draw parallel efficiency against workers into *path*.

    Solid lines: capacity-efficiency (speedup / capacity-weighted ideal); dashed lines of
    the same colour: naive efficiency (speedup / workers).  Noisy points are ringed.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    path
        Image file to write; the format follows its suffix (``efficiency.png``).

    Returns
    -------
    pathlib.Path
        *path*.
    """
    return save_figure(efficiency_figure(summary), Path(path))


def speedup_figure(summary: pd.DataFrame) -> Figure:
    """The figure :func:`plot_speedup` saves (one panel per workload and size)."""
    return _draw(summary, "speedup", "speedup (× 1 worker)", _speedup_panel,
                 "Speedup over one worker")


def efficiency_figure(summary: pd.DataFrame) -> Figure:
    """The figure :func:`plot_efficiency` saves."""
    return _draw(summary, "efficiency", "efficiency", _efficiency_panel,
                 "Parallel efficiency (solid: vs capacity, dashed: vs workers)")


def _panels(summary: pd.DataFrame, column: str) -> Panels:
    """Curves to draw, keyed by (workload, size), each a list of (scheduler, points).

    The serial scheduler is one point by nature and is left out unless it was
    swept over several worker counts.
    """
    points = summary[summary["n"] > 0].dropna(subset=[column])
    panels: Panels = {}
    for key, panel in points.groupby(["workload", "size"], sort=True):
        lines = [
            (scheduler, curve.sort_values("workers"))
            for scheduler, curve in panel.groupby("scheduler", sort=True)
            if scheduler != SERIAL_SCHEDULER or curve["workers"].nunique() > 1
        ]
        if lines:
            panels[key] = lines
    return panels


def _draw(
    summary: pd.DataFrame,
    column: str,
    ylabel: str,
    panel: Callable[[Axes, list[tuple[str, pd.DataFrame]]], None],
    title: str,
) -> Figure:
    """One subplot per (workload, size); *panel* draws its curves and ideals."""
    panels = _panels(summary, column)
    if not panels:
        # Say why the figure is empty: every point failed, or no curve has a reference.
        return _note_figure(title, NO_BASELINE if (summary["n"] > 0).any() else NO_DATA)
    figure, axes = _grid(len(panels))
    for ax, ((workload, size), lines) in zip(axes, panels.items(), strict=True):
        panel(ax, lines)
        workers = sorted({int(w) for _, curve in lines for w in curve["workers"]})
        ax.set(title=f"{workload} ({size})", xlabel="workers", ylabel=ylabel, xticks=workers)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    figure.suptitle(title)
    return figure


def _speedup_panel(ax: Axes, lines: list[tuple[str, pd.DataFrame]]) -> None:
    colors = {}
    for scheduler, curve in lines:
        low = (curve["speedup"] - curve["speedup_ci_low"]).clip(lower=0).fillna(0)
        high = (curve["speedup_ci_high"] - curve["speedup"]).clip(lower=0).fillna(0)
        drawn = ax.errorbar(curve["workers"], curve["speedup"], yerr=[low, high], marker="o",
                            capsize=3, label=scheduler)
        colors[scheduler] = drawn.lines[0].get_color()
        _ring_noisy(ax, curve, "speedup")
    top = max(int(w) for _, curve in lines for w in curve["workers"])
    ax.plot([1, top], [1, top], **_IDEAL_STYLE | {"label": "ideal (naive: workers)"})
    for schedulers, (workers, ideal) in _capacity_ideals(lines).items():
        color = colors[schedulers[0]] if len(schedulers) == 1 else "0.3"
        ax.plot(workers, ideal, color=color, linestyle=":", linewidth=1.5,
                label=f"ideal (capacity): {', '.join(schedulers)}")
    _label_noisy(ax, lines)


def _capacity_ideals(lines: list[tuple[str, pd.DataFrame]]
                     ) -> dict[tuple[str, ...], tuple[list[int], list[float]]]:
    """Distinct capacity-weighted ideal curves → the schedulers that share them."""
    curves: dict[tuple, list[str]] = {}
    for scheduler, curve in lines:
        known = curve[pd.to_numeric(curve["ideal_capacity"], errors="coerce").notna()]
        if len(known) < 2:
            continue
        key = tuple(zip(known["workers"].astype(int), known["ideal_capacity"].round(6),
                        strict=True))
        curves.setdefault(key, []).append(scheduler)
    return {tuple(names): ([w for w, _ in key], [v for _, v in key])
            for key, names in curves.items()}


def _efficiency_panel(ax: Axes, lines: list[tuple[str, pd.DataFrame]]) -> None:
    for scheduler, curve in lines:
        capacity = curve.dropna(subset=["efficiency_capacity"])
        if len(capacity):
            drawn = ax.plot(capacity["workers"], capacity["efficiency_capacity"], marker="o",
                            label=f"{scheduler} (capacity)")
            color = drawn[0].get_color()
            _ring_noisy(ax, capacity, "efficiency_capacity")
        else:
            color = None
        ax.plot(curve["workers"], curve["efficiency"], marker=".", linestyle="--", color=color,
                alpha=0.7, label=f"{scheduler} (naive)")
        # A noisy point without a capacity is ringed on its naive line instead.
        _ring_noisy(ax, curve[curve["efficiency_capacity"].isna()], "efficiency")
    ax.axhline(1.0, **_IDEAL_STYLE | {"label": "ideal"})
    ax.set_ylim(bottom=0)
    _label_noisy(ax, lines)


def _ring_noisy(ax: Axes, curve: pd.DataFrame, column: str) -> None:
    """Circle the points whose repeats vary by more than 10 %."""
    noisy = curve[curve["noisy"].astype(bool)]
    if len(noisy):
        ax.scatter(noisy["workers"], noisy[column], s=160, facecolors="none",
                   edgecolors="red", linewidths=1.2, zorder=3)


def _label_noisy(ax: Axes, lines: list[tuple[str, pd.DataFrame]]) -> None:
    """One legend entry for the rings, when any point is noisy."""
    if any(curve["noisy"].astype(bool).any() for _, curve in lines):
        ax.scatter([], [], s=60, facecolors="none", edgecolors="red",
                   label="noisy (CV > 10%)")


def _grid(count: int) -> tuple[Figure, list[Axes]]:
    """A figure with *count* subplots in rows of at most three."""
    columns = min(count, _PANEL_COLUMNS)
    rows = math.ceil(count / columns)
    figure = _figure((_PANEL_SIZE[0] * columns, _PANEL_SIZE[1] * rows))
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for spare in axes[count:]:
        figure.delaxes(spare)
    return figure, axes[:count]


def _note_figure(title: str, note: str) -> Figure:
    """A placeholder figure carrying a message, so that report links never break."""
    figure = _figure(_PANEL_SIZE)
    figure.suptitle(title)
    figure.text(0.5, 0.5, note, ha="center", va="center", color="0.4")
    return figure


def _figure(size: tuple[float, float]) -> Figure:
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)  # attaches itself to the figure; no pyplot involved
    return figure


def save_figure(figure: Figure, path: Path, svg: str | None = None) -> Path:
    """Save *figure* whole or not at all: a full disk leaves the previous image, not half a
    file (a temporary file, then a rename).  The format follows the suffix; an ``.svg`` is
    :func:`figure_svg`'s text (*svg* when the caller already has it: nothing drawn twice)."""
    partial = path.with_name(f".{path.name}.tmp")
    try:
        if path.suffix == ".svg":
            partial.write_text(figure_svg(figure, path.stem) if svg is None else svg,
                               encoding="utf-8")
        else:
            figure.savefig(partial, dpi=120, format=path.suffix.lstrip(".") or None)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


_XML_PROLOGUE = re.compile(r"\A(?:\s*<\?xml[^>]*\?>|\s*<!DOCTYPE[^>]*>)*\s*")


def figure_svg(figure: Figure, salt: str = "clusterbench") -> str:
    """*figure* as SVG text: text drawn as paths (no font to load), ids salted by *salt*
    (two figures in one HTML page never share an id; the same figure gives the same text).

    Parameters
    ----------
    figure
        A figure of this module.
    salt
        Distinguishes the figure's element ids from other figures' on the same page.

    Returns
    -------
    str
        A complete SVG document (``<?xml ...?>`` prologue included); see
        :func:`inline_svg` for embedding it in HTML.
    """
    buffer = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "path", "svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def inline_svg(svg: str) -> str:
    """An SVG document without its XML prologue and DOCTYPE, for an HTML page."""
    return _XML_PROLOGUE.sub("", svg, count=1)


def modes_figure(summary: pd.DataFrame) -> Figure:
    """Grouped bars: per workload, one bar per mode at its widest point; time and speedup
    (the figure :func:`plot_modes` saves)."""
    from clusterbench.analysis.modes import widest_points

    bars = widest_points(summary[summary["n"] > 0])
    if bars.empty:
        return _note_figure("Execution modes", NO_DATA)
    bars = bars.assign(group=bars["workload"] + " (" + bars["size"] + ")")
    modes = sorted(bars["scheduler"].unique(), key=_mode_order)
    widest = bars.groupby("scheduler")["workers"].max()
    labels = {m: m if m == SERIAL_SCHEDULER else f"{m} ×{widest[m]}" for m in modes}
    figure = _figure((max(6.0, 0.6 * bars["group"].nunique() * len(modes) + 2), 7.5))
    time_ax, speed_ax = figure.subplots(2, 1, sharex=True)
    for ax, column in ((time_ax, "median"), (speed_ax, "speedup_vs_serial")):
        # pandas draws grouped bars (one group per workload, one bar per mode) onto our axes.
        table = bars.pivot(index="group", columns="scheduler", values=column)[modes]
        table.rename(columns=labels).plot.bar(ax=ax, width=0.8, rot=15, legend=ax is time_ax)
        ax.grid(axis="y", alpha=0.3)
    time_ax.set(ylabel="median seconds", title="Time per mode (widest point)")
    speed_ax.set(ylabel="speedup vs serial", title="Speedup vs the serial run", xlabel="")
    speed_ax.axhline(1.0, **_IDEAL_STYLE | {"label": "serial"})
    time_ax.legend(fontsize="small", ncols=min(3, len(modes)))
    return figure


def plot_modes(summary: pd.DataFrame, path: Path) -> Path:
    """Grouped bars: per workload, one bar per mode at its widest point; time and speedup.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    path
        Image file to write (``modes.png``).

    Returns
    -------
    pathlib.Path
        *path*.
    """
    return save_figure(modes_figure(summary), Path(path))


def _mode_order(mode: str) -> tuple[int, str]:
    return (SCHEDULERS.index(mode) if mode in SCHEDULERS else len(SCHEDULERS), mode)


#: Straggler charts drawn at most (a sweep of many points shows its first ones; the table
#: and ``worker_activity`` in records.jsonl have them all).
MAX_STRAGGLER_PANELS = 24
_STRAGGLER_COLUMNS = 2
_STRAGGLER_WIDTH = 5.2
_ROW_INCHES = 0.32  # per worker bar
#: Workers drawn per straggler chart: the ones that finished last (a bar and a label per
#: worker of 256 made the report take minutes; records.jsonl has every worker).
MAX_STRAGGLER_WORKERS = 16
_IDLE_STYLE: dict[str, Any] = {"color": "0.85", "hatch": "///", "edgecolor": "0.6",
                               "linewidth": 0}


def straggler_points(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Summary rows with a straggler view worth showing: 2+ workers, each one's activity.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.

    Returns
    -------
    list of dict
        The rows, in the summary's order.
    """
    return [row for row in summary.to_dict("records")
            if row["workers"] >= 2 and len(row.get("worker_activity") or {}) >= 2
            and math.isfinite(float(row["median"]))]


def stragglers_figure(summary: pd.DataFrame) -> Figure:
    """One small chart per cluster point: per worker, when it finished its last task and
    how long it then waited for the others (the figure behind ``stragglers.png``).

    A worker's bar runs to ``median - idle_end_s`` (its last task's end, on the point's
    median repeat) and is hatched to the median; the one that finished last is red.
    """
    points = straggler_points(summary)
    if not points:
        return _note_figure("Stragglers", "no cluster point with 2+ workers has a task stream")
    shown = points[:MAX_STRAGGLER_PANELS]
    columns = min(len(shown), _STRAGGLER_COLUMNS)
    rows = [shown[i:i + columns] for i in range(0, len(shown), columns)]
    heights = [max(min(len(row["worker_activity"]), MAX_STRAGGLER_WORKERS)
                   for row in line) * _ROW_INCHES + 1.2 for line in rows]
    figure = _figure((_STRAGGLER_WIDTH * columns, sum(heights)))
    axes = figure.subplots(len(rows), columns, squeeze=False,
                           gridspec_kw={"height_ratios": heights}).ravel()
    for ax, row in zip(axes, shown, strict=False):
        _straggler_panel(ax, row)
    for spare in axes[len(shown):]:
        figure.delaxes(spare)
    more = f" (first {len(shown)} of {len(points)} points)" if len(points) > len(shown) else ""
    figure.suptitle(f"Who held each point up: work until the last task ends, then idle{more}")
    return figure


def _straggler_panel(ax: Axes, row: dict[str, Any]) -> None:
    activity = row["worker_activity"]
    # The point's planned order (the sweep's), then any worker it did not plan.
    names = [n for n in row.get("worker_names") or () if n in activity]
    names += sorted(n for n in activity if n not in names)
    median = float(row["median"])
    everyone = len(names)
    if everyone > MAX_STRAGGLER_WORKERS:  # the latest finishers, in the planned order
        latest = set(sorted(names, key=lambda n: float(activity[n].get("idle_end_s", 0.0))
                            )[:MAX_STRAGGLER_WORKERS])
        names = [n for n in names if n in latest]
    idle = [min(max(float(activity[n].get("idle_end_s", 0.0)), 0.0), median) for n in names]
    last = min(range(len(names)), key=lambda i: idle[i])
    finish = [median - wait for wait in idle]
    ys = list(range(len(names)))[::-1]  # the first worker at the top
    colors = ["tab:red" if i == last else "tab:blue" for i in range(len(names))]
    ax.barh(ys, finish, color=colors, height=0.7)
    ax.barh(ys, idle, left=finish, height=0.7, **_IDLE_STYLE)
    for y, name in zip(ys, names, strict=True):
        figures = activity[name]
        ax.text(median * 1.01, y, f"{figures.get('tasks', math.nan):.0f} tasks, "
                f"{figures.get('busy_s', math.nan):.2g} s busy", va="center",
                fontsize="x-small")
    ax.set_yticks(ys, names, fontsize="small")
    ax.set_xlim(0, median * 1.45)  # room for the labels right of the bars
    shown = f" ({len(names)} last of {everyone} workers)" if everyone > len(names) else ""
    ax.set_title(f"{row['workload']} ({row['size']}) {row['scheduler']} ×{row['workers']}: "
                 f"{median:.3g} s{shown}", fontsize="small")
    ax.set_xlabel("seconds of the median repeat", fontsize="x-small")
    ax.tick_params(axis="x", labelsize="x-small")
