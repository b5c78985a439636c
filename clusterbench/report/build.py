"""Build every report artefact of a run directory from its stored records.

Used at the end of a run and by ``clusterbench report <run-dir>``: everything is
derived from ``records.jsonl`` (+ ``environment.json``), so a report can always
be redrawn, e.g. after the analysis code improved.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from clusterbench.analysis.fits import scaling_fits
from clusterbench.analysis.speedup import CSV_COLUMNS, summarize
from clusterbench.osutil import atomic_write
from clusterbench.report.html import render_report_html
from clusterbench.report.markdown import (
    EFFICIENCY_IMAGE,
    MODES_IMAGE,
    SPEEDUP_IMAGE,
    SPEEDUP_SVG,
    STRAGGLERS_IMAGE,
    render_report,
)
from clusterbench.report.plots import (
    efficiency_figure,
    figure_svg,
    modes_figure,
    save_figure,
    speedup_figure,
    straggler_points,
    stragglers_figure,
)
from clusterbench.results.store import RunStore

SUMMARY_CSV = "summary.csv"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
#: ``run --profile`` writes one ``distributed`` performance report per point here.
PROFILES_DIR = "profiles"


@dataclass(frozen=True)
class Report:
    """The files written for a run, plus the tables they were drawn from."""

    run_dir: Path
    summary_csv: Path
    speedup_png: Path
    speedup_svg: Path
    efficiency_png: Path
    modes_png: Path
    report_md: Path
    report_html: Path
    # DataFrames do not support ==, so they stay out of the dataclass comparison.
    summary: pd.DataFrame = field(compare=False, repr=False)
    fits: pd.DataFrame = field(compare=False, repr=False)
    #: One line when a torn last record was set aside (see RunStore.records), else None.
    torn: str | None = None
    #: One line per file that could not be written (a full disk, a plotting error).
    warnings: tuple[str, ...] = ()
    #: The files of :attr:`files` that were not written (see :attr:`warnings`).
    unwritten: tuple[Path, ...] = ()
    #: ``stragglers.png``: one small chart per cluster point of 2+ workers (None: the run
    #: has no such point, and no file is written).
    stragglers_png: Path | None = None

    @property
    def files(self) -> list[Path]:
        """Every file written, in a stable order."""
        return [
            self.summary_csv,
            self.speedup_png,
            self.speedup_svg,
            self.efficiency_png,
            self.modes_png,
            *([self.stragglers_png] if self.stragglers_png else []),
            self.report_md,
            self.report_html,
        ]


def build_report(run_dir: Path) -> Report:
    """Summarise a run directory and (re)write its CSV, plots and Markdown report.

    Capacities (hosts, machine checks) come from ``environment.json``, so everything is
    redrawn from ``records.jsonl`` + ``environment.json`` alone.

    Parameters
    ----------
    run_dir
        A directory holding ``records.jsonl`` and, optionally, ``environment.json``.

    Returns
    -------
    Report
        Paths of ``summary.csv``, ``speedup.png``/``.svg``, ``efficiency.png``,
        ``modes.png`` (grouped bars per mode), ``stragglers.png`` (one small chart per
        cluster point of 2+ workers, when the run has one), ``report.md`` and
        ``report.html`` (the same content as one self-contained page, plots inlined as SVG;
        all inside *run_dir*) with the summary and fit tables.  Each figure is drawn once
        and saved as PNG and as SVG text (file and page).

    A file that cannot be written (a full disk, a plotting error) is named in the
    report's ``warnings`` and left out: records.jsonl is only read, never touched.

    Raises
    ------
    clusterbench.errors.ClusterbenchError
        When *run_dir* has no ``records.jsonl`` or a line of it is not a record.
    """
    run_dir = Path(run_dir)
    store = RunStore(run_dir)
    records = store.records()
    environment = store.environment()
    summary = summarize(records, environment)
    fits = scaling_fits(summary)
    # An empty records.jsonl names no run; the directory is named after it anyway.
    run_id = records[0].run_id if records else run_dir.name
    report = Report(
        torn=store.torn,
        run_dir=run_dir,
        summary_csv=run_dir / SUMMARY_CSV,
        speedup_png=run_dir / SPEEDUP_IMAGE,
        speedup_svg=run_dir / SPEEDUP_SVG,
        efficiency_png=run_dir / EFFICIENCY_IMAGE,
        modes_png=run_dir / MODES_IMAGE,
        report_md=run_dir / REPORT_MD,
        report_html=run_dir / REPORT_HTML,
        summary=summary,
        fits=fits,
        stragglers_png=run_dir / STRAGGLERS_IMAGE if straggler_points(summary) else None,
    )
    profiles = _profiles(run_dir)
    #: SVG text of each plot by its image file, for report.html (a plot that failed is absent).
    svgs: dict[str, str] = {}

    def plot(make: Callable[[pd.DataFrame], Figure], png: Path, svg: Path | None = None) -> None:
        figure = make(summary)
        svgs[png.name] = text = figure_svg(figure, png.stem)
        save_figure(figure, png)
        if svg is not None:
            save_figure(figure, svg, text)

    stragglers = report.stragglers_png
    writes: list[tuple[tuple[Path, ...], Callable[[], object]]] = [
        ((report.summary_csv,), lambda: _replace(
            report.summary_csv, summary[CSV_COLUMNS].to_csv(index=False))),
        ((report.speedup_png, report.speedup_svg),
         lambda: plot(speedup_figure, report.speedup_png, report.speedup_svg)),
        ((report.efficiency_png,), lambda: plot(efficiency_figure, report.efficiency_png)),
        ((report.modes_png,), lambda: plot(modes_figure, report.modes_png)),
        *([((stragglers,), lambda: plot(stragglers_figure, stragglers))]
          if stragglers is not None else []),
        ((report.report_md,), lambda: _replace(
            report.report_md, render_report(summary, fits, environment, run_id, profiles))),
        ((report.report_html,), lambda: atomic_write(
            report.report_html,
            render_report_html(summary, fits, environment, run_id, svgs, profiles))),
    ]
    warnings: list[str] = []
    unwritten: list[Path] = []
    for paths, write in writes:
        problem = _attempt(write)
        if problem:
            warnings.append(f"{paths[0]} not written: {problem}")
            unwritten.extend(paths)
    return dataclasses.replace(report, warnings=tuple(warnings), unwritten=tuple(unwritten))


def _profiles(run_dir: Path) -> list[str]:
    """The performance reports of ``run --profile`` in *run_dir*, as relative paths."""
    directory = run_dir / PROFILES_DIR
    if not directory.is_dir():
        return []
    return sorted(f"{PROFILES_DIR}/{path.name}" for path in directory.glob("*.html"))


def _attempt(write: Callable[[], object]) -> str | None:
    """Run *write*; the reason it failed in one line, or None.

    A report file is derived and can be redrawn with ``clusterbench report``, so a full
    disk or a plotting library's error must not end a run whose records are safe.
    """
    try:
        write()
    except OSError as exc:
        return exc.strerror or str(exc)
    except Exception as exc:  # matplotlib raises ValueError, RuntimeError, OverflowError...
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def _replace(path: Path, text: str) -> None:
    """Write *path* whole or leave the previous version (a temporary file, then a rename)."""
    partial = path.with_name(path.name + ".tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
