"""What a run leaves: its :class:`RunResult`, its report built and summarised."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape

from clusterbench.console import err, out
from clusterbench.results.store import RunStore


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_scenario` measured.

    Attributes
    ----------
    directory : Path
        The run directory (``records.jsonl``, ``environment.json``, report files).
    records : list
        Every record of the run, in the order measured.
    summary : pandas.DataFrame
        One row per point: the summary the report and the terminal show.
    fits : Any
        The scaling-law fits of the report.
    failed : int
        Measurements that failed or did not verify (worker-set changes not counted).
    """

    directory: Path
    records: list
    summary: Any
    fits: Any
    failed: int

    @property
    def exit_code(self) -> int:
        """What ``clusterbench run`` exits with: 1 when any measurement failed, else 0."""
        return 1 if self.failed else 0


def finish_run(store: RunStore, records: list) -> RunResult:
    """Build the run's report, print its summary, warnings and directory; the result."""
    from clusterbench.report.build import build_report
    from clusterbench.report.terminal import print_run_summary

    report = build_report(store.directory)
    warn_torn(report.torn)
    warn_unwritten(report.warnings)
    print_run_summary(report.summary, report.fits, out(), err())
    out().print(f"run directory: {store.directory}")
    failed = [r for r in records if not r.verified and not r.worker_set_changed]
    if failed:
        err().print(f"[red]{len(failed)} measurement(s) failed or did not verify; "
                    f"see {report.report_md}[/]")
    return RunResult(directory=store.directory, records=list(records),
                     summary=report.summary, fits=report.fits, failed=len(failed))


def warn_torn(torn: str | None) -> None:
    if torn:
        err().print(f"[yellow]warning:[/] {escape(torn)}", soft_wrap=True)  # one line


def warn_unwritten(warnings: tuple[str, ...]) -> None:
    """A report file that could not be written: the records are safe, say so once each."""
    for warning in warnings:
        err().print(f"[yellow]warning:[/] {escape(warning)} (records.jsonl is intact; "
                    f"`clusterbench report` redraws it)", soft_wrap=True)
