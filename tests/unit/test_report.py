"""Unit tests of clusterbench.report: tables, Markdown, plots and the run-directory build."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from clusterbench.analysis.fits import amdahl_fits
from clusterbench.analysis.speedup import CSV_COLUMNS, summarize
from clusterbench.errors import ClusterbenchError
from clusterbench.report.build import build_report
from clusterbench.report.markdown import markdown_table, render_report
from clusterbench.report.plots import plot_efficiency, plot_speedup
from clusterbench.report.tables import format_percent, format_ratio, speedup_table
from clusterbench.results.record import Record
from clusterbench.results.store import RunStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rec(scheduler: str, workers: int, seconds: float, **kwargs) -> Record:
    fields = {"run_id": "run-1", "workload": "mc", "size": "tiny", "repeat": 0, "verified": True}
    fields.update(kwargs)
    return Record(scheduler=scheduler, workers=workers, seconds=seconds, **fields)


def scaling_records() -> list[Record]:
    records = [rec("synchronous", 1, 12.0)]
    for scheduler in ("threads", "processes"):
        records += [rec(scheduler, k, 10.0 * (0.1 + 0.9 / k)) for k in (1, 2, 4)]
    records.append(rec("threads", 8, 9.0, verified=False, error="TimeoutError: no workers"))
    records.append(rec("threads", 2, 4.0, workload="rf", size="small"))  # one count only
    return records


def write_run(directory: Path, records: list[Record], environment: dict | None = None) -> Path:
    store = RunStore(directory)
    directory.mkdir()
    for record in records:
        store.append(record)
    if environment is not None:
        store.write_environment(environment)
    return directory


def assert_images(directory: Path) -> None:
    for name in ("speedup.png", "efficiency.png"):
        assert (directory / name).read_bytes().startswith(PNG_MAGIC)
    assert ET.parse(directory / "speedup.svg").getroot().tag.endswith("svg")


# --- formats and tables -----------------------------------------------------------------------


def test_number_formats():
    assert format_ratio(1.934) == "1.93×"
    assert format_percent(0.964) == "96%"
    assert format_ratio(float("nan")) == "—"


def test_speedup_table_renders_every_point():
    table = speedup_table(summarize(scaling_records()))
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert table.row_count == 9
    assert "1.82×" in text  # threads, 2 workers: 10 / 5.5
    assert "91%" in text


def test_markdown_table_escapes_pipes():
    table = markdown_table(["a", "b"], [["x|y", 1]], right=[False, True])
    assert table.splitlines() == ["| a | b |", "| --- | ---: |", "| x\\|y | 1 |"]


# --- markdown ---------------------------------------------------------------------------------


def test_render_report_sections():
    summary = summarize(scaling_records())
    environment = {"hostname": "box", "cores": 2, "packages": {"dask": "2025.1", "numpy": "2.4"}}
    text = render_report(summary, amdahl_fits(summary), environment, "run-1")
    assert text.startswith("# clusterbench run `run-1`")
    assert "- **hostname**: box" in text
    assert "| dask | 2025.1 |" in text
    assert "| mc | tiny | threads | 2 | 1 | 5.5 |" in text
    assert "## Amdahl fits" in text and "0.1000" in text
    assert "![speedup](speedup.png)" in text
    assert "![efficiency](efficiency.png)" in text
    assert "TimeoutError: no workers" in text.split("## Failures")[1]


def test_render_report_without_failures_or_environment():
    summary = summarize([rec("threads", 1, 1.0)])
    text = render_report(summary, amdahl_fits(summary), {}, "r")
    assert "No failed repeats." in text
    assert "No environment.json" in text


# --- plots ------------------------------------------------------------------------------------


def test_plots_write_valid_files(tmp_path):
    summary = summarize(scaling_records())
    written = plot_speedup(summary, tmp_path / "speedup")
    assert written == [tmp_path / "speedup.png", tmp_path / "speedup.svg"]
    assert plot_efficiency(summary, tmp_path / "efficiency.png") == tmp_path / "efficiency.png"
    assert_images(tmp_path)


def test_plots_with_single_worker_count_and_serial_only(tmp_path):
    summary = summarize([rec("synchronous", 1, 3.0), rec("threads", 1, 2.0, workload="one")])
    plot_speedup(summary, tmp_path / "speedup")
    plot_efficiency(summary, tmp_path / "efficiency.png")
    assert_images(tmp_path)


# --- build ------------------------------------------------------------------------------------


def test_build_report_writes_everything(tmp_path):
    run_dir = write_run(tmp_path / "run-1", scaling_records(), {"hostname": "box"})
    report = build_report(run_dir)
    assert all(path.parent == run_dir and path.stat().st_size > 0 for path in report.files)
    assert_images(run_dir)
    with open(report.summary_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(report.summary) == 9
    text = report.report_md.read_text()
    assert "| workload | size | scheduler | workers |" in text
    assert "![speedup](speedup.png)" in text and "- **hostname**: box" in text


def test_build_report_when_every_point_failed(tmp_path):
    records = [
        rec("threads", k, 1.0, verified=False, error="KilledWorker", repeat=r)
        for k in (1, 2)
        for r in range(2)
    ]
    run_dir = write_run(tmp_path / "run-1", records)
    report = build_report(run_dir)
    assert_images(run_dir)
    assert report.summary["failed"].tolist() == [2, 2]
    assert report.summary["median"].isna().all()
    text = report.report_md.read_text()
    assert "KilledWorker" in text and "2 of 2 repeats failed" in text


def test_build_report_with_empty_records_file(tmp_path):
    run_dir = write_run(tmp_path / "empty", [])
    (run_dir / "records.jsonl").touch()
    report = build_report(run_dir)
    assert report.summary.empty
    assert_images(run_dir)
    assert "# clusterbench run `empty`" in report.report_md.read_text()


def test_build_report_requires_a_run_directory(tmp_path):
    with pytest.raises(ClusterbenchError):
        build_report(tmp_path)
