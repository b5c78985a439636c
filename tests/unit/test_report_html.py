"""``report.html`` and the compare page: one content, two renderers, nothing fetched,
everything escaped (the browser test is tests/integration/test_report_html.py)."""

from __future__ import annotations

import argparse
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import clusterbench.report.build as build
from clusterbench.analysis.compare import compare_records
from clusterbench.analysis.fits import scaling_fits
from clusterbench.analysis.speedup import summarize
from clusterbench.report.build import build_report
from clusterbench.report.compare import compare_sections, write_compare_html
from clusterbench.report.html import render_report_html
from clusterbench.report.markdown import render_report
from clusterbench.report.plots import figure_svg, inline_svg, speedup_figure
from tests.unit.test_report import lab_environment, lab_records, rec, scaling_records, write_run

HOSTILE = "<script>alert('x')</script>&<b>"


class Page(HTMLParser):
    """Tags, attributes, table cells and text of a page, as a browser would parse them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in_body = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            self._table = attributes.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)

    def body(self, table: str) -> list[list[str]]:
        return self.tables[table][1:]


def lab_html(environment: dict | None = None, records: list | None = None) -> str:
    environment = lab_environment() if environment is None else environment
    summary = summarize(records or lab_records(), environment)
    figures = {"speedup.png": figure_svg(speedup_figure(summary), "speedup")}
    return render_report_html(summary, scaling_fits(summary), environment, "run-1", figures)


def markdown_rows(markdown: str, first_header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose first header is *first_header*."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_html_and_markdown_have_the_same_tables_and_sentences() -> None:
    environment = lab_environment()
    summary = summarize(lab_records(), environment)
    fits = scaling_fits(summary)
    markdown = render_report(summary, fits, environment, "run-1")
    page = Page(render_report_html(summary, fits, environment, "run-1"))
    assert page.body("table-results") == markdown_rows(markdown, "workload")
    assert page.body("table-hosts") == markdown_rows(markdown, "host")
    assert page.body("table-capacity") == markdown_rows(markdown, "processes")
    text = " ".join(page.text)
    for sentence in (line[2:] for line in markdown.splitlines() if line.startswith("- mc/")):
        assert sentence in text
    # Every table is sortable, with one header row and numbers right-aligned.
    tables = [attrs for tag, attrs in page.tags if tag == "table"]
    assert tables and all(attrs["class"] == "sortable" for attrs in tables)
    assert ("td", {"class": "num"}) in page.tags


def test_the_page_requests_nothing_and_forbids_requests() -> None:
    text = lab_html()
    page = Page(text)
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"img", "link", "iframe", "object", "embed", "video", "audio", "base"}
    sources = [attrs for _, attrs in page.tags if "src" in attrs]
    assert sources == [], sources
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts == [{}]  # inline, no src
    policy = next(attrs["content"] for tag, attrs in page.tags
                  if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy
    # url(...) only to an element of the page (matplotlib's clip paths), no @import.
    assert all(target.startswith("#") for target in re.findall(r"url\(([^)]*)\)", text))
    assert "@import" not in text and "<?xml" not in text and "<!DOCTYPE svg" not in text
    hrefs = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert all(h and (h.startswith("#") or "://" not in h) for h in hrefs), hrefs
    assert ("svg" in tags) and "figure-speedup" in text


def test_every_value_from_a_users_file_is_escaped() -> None:
    environment = lab_environment()
    environment["hosts"] = {HOSTILE: environment["hosts"]["pi"]}
    environment["hosts"][HOSTILE]["fingerprint"]["cpu_model"] = HOSTILE
    environment["dashboard"] = "javascript:alert(1)"
    environment[HOSTILE] = {HOSTILE: HOSTILE}
    records = [rec("threads", k, 2.0 / k, workload=HOSTILE, repeat=r, error=None)
               for k in (1, 2) for r in range(2)]
    records.append(rec("threads", 4, 1.0, workload=HOSTILE, verified=False, error=HOSTILE))
    text = lab_html(environment, records)
    page = Page(text)
    assert "<script>alert" not in text and "<b>" not in text
    assert [tag for tag, _ in page.tags].count("script") == 1
    assert all(row[0] == HOSTILE for row in page.body("table-results"))
    assert page.body("table-hosts")[0][0] == HOSTILE
    assert page.body("table-hosts")[0][2] == HOSTILE
    assert not any(attrs.get("href", "").startswith("javascript:")
                   for tag, attrs in page.tags if tag == "a")
    assert "javascript:alert(1)" in " ".join(page.text)  # shown as text, not a link


def test_dashboard_and_profiles_are_linked_in_both_reports() -> None:
    environment = lab_environment() | {"dashboard": "http://127.0.0.1:8787/status"}
    summary = summarize(lab_records(), environment)
    fits = scaling_fits(summary)
    profiles = ["profiles/mc-tiny-distributed-2.html"]
    markdown = render_report(summary, fits, environment, "r", profiles)
    assert "[http://127.0.0.1:8787/status](http://127.0.0.1:8787/status)" in markdown
    assert f"[{profiles[0]}]({profiles[0]})" in markdown
    page = Page(render_report_html(summary, fits, environment, "r", profiles=profiles))
    hrefs = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert "http://127.0.0.1:8787/status" in hrefs and profiles[0] in hrefs


def test_build_report_writes_report_html_drawing_each_figure_once(tmp_path, monkeypatch) -> None:
    run_dir = write_run(tmp_path / "run-1", lab_records(), lab_environment())
    calls = []
    original = build.speedup_figure
    monkeypatch.setattr(build, "speedup_figure",
                        lambda summary: calls.append(1) or original(summary))
    report = build_report(run_dir)
    assert calls == [1]
    assert report.report_html in report.files and not report.warnings
    text = report.report_html.read_text()
    # The speedup plot of the page is the speedup.svg file, without its XML prologue.
    assert inline_svg((run_dir / "speedup.svg").read_text()) in text
    assert len(Page(text).body("table-results")) == len(report.summary)
    assert not list(run_dir.glob(".*.tmp"))


def test_a_failed_plot_still_leaves_a_report_html_that_says_so(tmp_path, monkeypatch) -> None:
    run_dir = write_run(tmp_path / "run-1", scaling_records(), {"hostname": "box"})
    records_before = (run_dir / "records.jsonl").read_bytes()

    def broken(summary: pd.DataFrame) -> None:
        raise RuntimeError("Exceeded cell block limit")

    monkeypatch.setattr(build, "efficiency_figure", broken)
    report = build_report(run_dir)
    assert report.unwritten == (report.efficiency_png,)
    text = report.report_html.read_text()
    assert "The efficiency plot was not drawn" in text and "figure-speedup" in text
    assert (run_dir / "records.jsonl").read_bytes() == records_before


def test_a_report_html_that_cannot_be_written_keeps_the_previous_one(tmp_path,
                                                                     monkeypatch) -> None:
    run_dir = write_run(tmp_path / "run-1", scaling_records(), {"hostname": "box"})
    build_report(run_dir)
    before = (run_dir / "report.html").read_text()

    def full(*args: object, **kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build, "render_report_html", full)
    report = build_report(run_dir)
    assert report.unwritten == (report.report_html,)
    assert report.warnings == (f"{report.report_html} not written: No space left on device",)
    assert (run_dir / "report.html").read_text() == before
    assert report.report_md.exists() and report.summary_csv.exists()


def test_compare_page_has_every_point_verdict_classes_and_the_tally(tmp_path: Path) -> None:
    fast = [rec("threads", k, 1.0 + 0.01 * r, repeat=r) for k in (1, 2) for r in range(3)]
    slow = [rec("threads", k, 2.0 + 0.01 * r, repeat=r) for k in (1, 2) for r in range(3)]
    slow.append(rec("processes", 2, 1.0, workload=HOSTILE))
    table = compare_records(fast, slow, 0.05)
    sections = compare_sections(table, "A<", "B>", 0.05, 3, ["package dask: 1 vs 2"], [])
    assert [part.key for part in sections if part] == ["title", "overview", "warnings",
                                                       "comparison"]
    path = write_compare_html(tmp_path / "cmp.html", table, "A<", "B>", 0.05, 3,
                              ["package dask: 1 vs 2"])
    text = path.read_text()
    page = Page(text)
    rows = page.body("table-compare")
    assert [row[-1] for row in rows] == ["only in B", "slower", "slower"]
    assert rows[0][0] == HOSTILE and "<script>alert" not in text
    assert rows[1][8] == "1.99×"  # 2.01 s / 1.01 s
    classes = [attrs.get("class") for tag, attrs in page.tags if tag == "tr"][1:]
    assert classes == ["verdict-only-in-B", "verdict-slower", "verdict-slower"]
    body = " ".join(page.text)
    assert "2 slower, 0 faster, 0 unclear, 0 same, 1 only in B" in body
    assert "the runs differ in package dask: 1 vs 2" in body


# --- run --profile ------------------------------------------------------------------------------


def test_profile_files_are_named_safely_inside_profiles(tmp_path: Path) -> None:
    from clusterbench.runner.profile import profile_path

    assert profile_path(tmp_path, "tests.sample_workloads:NAPS", "tiny", "distributed", 2) == (
        tmp_path / "profiles" / "tests.sample_workloads_NAPS-tiny-distributed-2.html")
    hostile = profile_path(tmp_path, "../../etc/<x>", "tiny", "distributed", 1)
    assert hostile.parent == tmp_path / "profiles" and "/" not in hostile.name


def test_a_profile_that_cannot_be_made_leaves_the_repeat_alone(tmp_path: Path) -> None:
    from clusterbench.runner.profile import PointProfile

    class SchedulerGone:
        def as_current(self) -> None:
            raise OSError("scheduler gone")

    path = tmp_path / "profiles" / "p.html"
    with PointProfile(SchedulerGone(), path) as profile:
        ran = True
    assert ran and profile.problem == "OSError: scheduler gone"
    assert not path.exists() and not list(path.parent.glob(".*"))


def test_profile_is_a_scenario_field_and_run_profile_needs_bokeh(monkeypatch) -> None:
    from clusterbench.commands.run import _scenario
    from clusterbench.errors import UsageError
    from clusterbench.runner.scenario import parse_scenario

    scenario = parse_scenario({"workloads": ["montecarlo"], "profile": True})
    assert scenario.profile and not parse_scenario({"workloads": ["montecarlo"]}).profile
    args = argparse.Namespace(scenario="scaling", profile=True)
    if importlib.util.find_spec("bokeh") is not None:
        loaded = _scenario(args)
        assert not isinstance(loaded, str) and loaded.profile and loaded.name == "scaling"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UsageError, match="--profile needs bokeh"):
        _scenario(args)
    assert _scenario(argparse.Namespace(scenario="scaling", profile=False)) == "scaling"


def test_report_html_of_a_default_sweep_on_64_cores_stays_under_5_mb(tmp_path: Path) -> None:
    """``run scaling``'s 4 workloads × (serial + 3 modes × 1..64 workers), 3 repeats each:
    the size a big machine's default run gives (the browser test checks a real tiny run)."""
    counts = (1, 2, 4, 8, 16, 32, 64)
    records = []
    for workload in ("montecarlo", "randomforest", "gridsearch.svc", "gridsearch.pipeline"):
        records += [rec("synchronous", 1, 10.0 + r, workload=workload, size="small", repeat=r)
                    for r in range(3)]
        records += [rec(mode, k, 10.0 * (0.05 + 0.95 / k) * (1 + 0.05 * r), workload=workload,
                        size="small", repeat=r)
                    for mode in ("threads", "processes", "distributed") for k in counts
                    for r in range(3)]
    run_dir = write_run(tmp_path / "big", records, lab_environment())
    report = build_report(run_dir)
    size = report.report_html.stat().st_size
    assert len(Page(report.report_html.read_text()).body("table-results")) == 4 * 22
    assert size < 5 * 2**20, size
    print(f"report.html of 88 points: {size / 2**10:.0f} KiB")
