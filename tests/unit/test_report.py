"""Unit tests of clusterbench.report: tables, Markdown, plots and the run-directory build."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from clusterbench.analysis.fits import amdahl_fits
from clusterbench.analysis.speedup import CSV_COLUMNS, summarize
from clusterbench.errors import ClusterbenchError
from clusterbench.report.build import build_report
from clusterbench.report.markdown import markdown_table, render_report
from clusterbench.report.plots import (
    efficiency_figure,
    plot_efficiency,
    plot_speedup,
    speedup_figure,
)
from clusterbench.report.tables import format_percent, format_ratio, speedup_table
from clusterbench.report.terminal import print_run_summary
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
    console = Console(width=250, record=True)
    console.print(table)
    text = console.export_text()
    assert table.row_count == 9
    assert "1.82×" in text  # threads, 2 workers: 10 / 5.5
    assert "91%" in text
    for header in ("speedup (95% CI)", "ideal (capacity)", "eff. (capacity)", "eff. (naive)",
                   "flags"):
        assert header in text
    assert "95% CI s" not in text  # the time's interval is in the report and CSV only
    assert "eff. (naive) = speedup / workers" in " ".join(text.split())


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
    assert "## Scaling fits" in text and "0.1000" in text
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


# --- issue 11: redraw with capacities, hosts, verdicts ---------------------------------------


def lab_environment() -> dict:
    """Two hosts as environment.json stores them: a 0.5-CPU pi and a full desktop core."""
    def worker(alone: float, together: float) -> dict:
        return {"address": "tcp://10.0.0.1:40000", "threads": 1, "alone_rate": alone * 1e6,
                "together_rate": together * 1e6, "capacity_alone": alone,
                "capacity": together}

    def fingerprint(hostname: str, model: str, quota: float | None, limit: int | None) -> dict:
        return {"hostname": hostname, "cpu_model": model, "logical_cores": 4,
                "usable_cores": 4, "cpu_quota": quota, "memory_limit_bytes": limit,
                "memory_total_bytes": 8 * 2**30, "arch": "aarch64", "os": "Linux",
                "python": "3.12.3", "packages": {"dask": "2026.8.0", "numpy": "2.4.0"},
                "blas": []}

    checks = [{"at": at, "capacity": {"1": 1.0, "2": c}, "rate": 1e6, "seconds": 1.0}
              for at, c in (("start", 1.6), ("middle", 1.9), ("end", 1.7))]
    return {
        "hostname": "box", "schema_version": 2,
        "hosts": {
            "pi": {"fingerprint": fingerprint("pi-1", "Cortex-A72", 0.5, 512 * 2**20),
                   "workers": {"pi-0": worker(0.5, 0.5)}},
            "desktop": {"fingerprint": fingerprint("desk", "Ryzen 7", None, None),
                        "workers": {"desktop-0": worker(1.0, 1.0)}},
        },
        "calibration": {"capacity": {"1": 1.0, "2": 1.6}, "capacity_checks": checks,
                        "reference_rate": 1e6, "worker_calibration_seconds": 2.5},
    }


def lab_records() -> list[Record]:
    names = {1: ("pi-0",), 2: ("pi-0", "desktop-0")}
    records = []
    for repeat, factor in enumerate((1.0, 1.02, 0.98)):
        records += [rec("distributed", 1, 12.0 * factor, repeat=repeat, worker_names=names[1]),
                    rec("distributed", 2, 6.0 * factor, repeat=repeat, worker_names=names[2]),
                    rec("processes", 1, 10.0 * factor, repeat=repeat),
                    rec("processes", 2, 5.5 * factor, repeat=repeat),
                    rec("synchronous", 1, 10.0 * factor, repeat=repeat)]
    return records


def test_report_redraws_hosts_verdicts_and_both_efficiencies_from_the_run_dir_alone(tmp_path):
    run_dir = write_run(tmp_path / "run-1", lab_records(), lab_environment())
    text = build_report(run_dir).report_md.read_text()
    assert text.index("## Verdict") < text.index("## Results")
    # 2.0x where the pi + desktop have 3x the pi's capacity: 67 % of capacity, 100 % naive.
    assert "- mc/distributed (tiny): 67% of capacity up to 2 workers;" in text
    assert "| mc | tiny | distributed | 2 | 3 | 6 | " in text
    assert "| 2.00× | 1.92–2.08× | 3.00× | 67% | 100% |" in text
    assert "eff. (capacity) = speedup / ideal (capacity)" in text
    assert "eff. (naive) = speedup / workers" in text
    assert "## Hosts" in text
    assert ("| pi | pi-1 | Cortex-A72 | 4 | 0.5 CPUs | 512 MiB | pi-0: 0.50 / 0.50 | "
            "Python 3.12.3, dask 2026.8.0, numpy 2.4.0 |") in text
    assert "| desktop | desk | Ryzen 7 | 4 | none | none | desktop-0: 1.00 / 1.00 |" in text
    assert "| processes | start | middle | end | range |" in text
    assert "| 2 | 1.60× | 1.90× | 1.70× | 1.60×–1.90× |" in text
    assert "## Scaling fits" in text and "2 points: uncertainty unknown" in text
    assert "## Karp–Flatt serial fraction" in text
    assert '"hosts"' not in text  # the hosts are a table, not a JSON dump
    with open(run_dir / "summary.csv", newline="") as fh:
        rows = {(r["scheduler"], r["workers"]): r for r in csv.DictReader(fh)}
    assert float(rows[("distributed", "2")]["ideal_capacity"]) == 3.0
    assert float(rows[("processes", "2")]["ideal_capacity"]) == 1.9  # the best check
    # Delete every derived file: the redraw is identical, from the two stored files.
    for path in run_dir.iterdir():
        if path.name not in ("records.jsonl", "environment.json"):
            path.unlink()
    assert build_report(run_dir).report_md.read_text() == text


def test_schema_1_records_still_read_and_executed_workers_become_a_tuple(tmp_path):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    old = {"run_id": "old", "workload": "mc", "size": "tiny", "scheduler": "threads",
           "workers": 1, "repeat": 0, "seconds": 2.0, "verified": True, "schema_version": 1}
    new = old | {"workers": 2, "seconds": 1.0, "schema_version": 2, "round": 1,
                 "executed_workers": ["a", "b"], "worker_set_changed": False}
    (run_dir / "records.jsonl").write_text(json.dumps(old) + "\n" + json.dumps(new) + "\n")
    records = RunStore(run_dir).records()
    assert records[0].scale == 1.0 and records[0].scaling == "strong"
    assert records[0].order_points == "blocked" and records[1].order_points == "interleaved"
    assert records[1].executed_workers == ("a", "b") and records[1].round == 1
    assert Record.from_dict(json.loads(records[1].to_json())) == records[1]
    report = build_report(run_dir)
    assert report.summary.set_index("workers").loc[2, "speedup"] == 2.0


def test_print_run_summary_prints_table_verdicts_and_warnings():
    records = lab_records() + [
        rec("distributed", 2, 30.0, repeat=5, worker_names=("pi-0", "desktop-0"),
            worker_set_changed=True, worker_set_note="desktop-0 restarted on a new address"),
        rec("processes", 2, 5.5, repeat=6,
            metrics={"problem_too_small": "6 tasks for 2 worker slots", "tasks": 6}),
        rec("threads", 1, 0.02, metrics={"tasks": 100, "task_overhead_s": 2e-5}),
    ]
    summary = summarize(records, lab_environment())
    out, err = Console(width=250, record=True), Console(width=250, record=True)
    print_run_summary(summary, amdahl_fits(summary), out, err)
    shown, warned = out.export_text(), " ".join(err.export_text().split())
    assert "eff. (capacity)" in shown and "67%" in shown
    assert "mc/distributed (tiny): 67% of capacity up to 2 workers;" in " ".join(shown.split())
    assert "warning: tasks too fine in mc[tiny] threads×1" in warned
    assert ("warning: problem too small in mc[tiny] processes×2: 6 tasks for 2 worker slots"
            in warned) and "--size full" in warned and "--weak" in warned
    assert ("warning: worker set changed in 1 repeat(s) of mc[tiny] distributed×2: desktop-0 "
            "restarted on a new address; not counted") in warned
    assert "capacity underestimated" not in warned and "noisy" not in warned
    assert "mc/" not in err.export_text()  # the verdicts go to the output console


def test_plots_draw_both_ideals_error_bars_and_noisy_points():
    records = lab_records() + [rec("processes", 2, 8.0, repeat=7)]  # CV > 10 %: noisy
    summary = summarize(records, lab_environment())
    (ax,) = speedup_figure(summary).axes
    labels = {line.get_label() for line in ax.get_lines()}
    assert {"ideal (naive: workers)", "ideal (capacity): distributed",
            "ideal (capacity): processes"} <= labels
    capacity = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert capacity["ideal (capacity): distributed"] == [1.0, 3.0]
    assert len(ax.containers) == 2  # one errorbar container per scheduler
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "noisy (CV > 10%)" in legend
    (ax,) = efficiency_figure(summary).axes
    labels = {line.get_label() for line in ax.get_lines()}
    assert {"distributed (capacity)", "distributed (naive)"} <= labels
    naive = next(line for line in ax.get_lines() if line.get_label() == "distributed (naive)")
    assert naive.get_linestyle() == "--"


def test_capacity_efficiency_cells_never_read_above_100_percent():
    from clusterbench.report.tables import format_share

    assert format_share(1.12) == "≥100%"
    assert format_share(1.0) == "100%"
    assert format_share(0.875) == "88%"
    assert format_share(float("nan")) == "—"
