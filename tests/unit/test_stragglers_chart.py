"""The straggler chart: one small panel per cluster point, in stragglers.png, report.md and
(inline SVG) report.html."""

from __future__ import annotations

import pandas as pd
from matplotlib.colors import to_rgba

from clusterbench.analysis.speedup import summarize
from clusterbench.report import plots
from clusterbench.report.build import build_report
from tests.unit.test_report import PNG_MAGIC, rec, scaling_records, write_run

RED = to_rgba("tab:red")
NAMES = ("fast-0", "slow-0", "slow-1")


def activity(idle: tuple[float, ...], busy: tuple[float, ...] = (3.0, 3.5, 3.9)) -> dict:
    return {name: {"tasks": 4.0, "busy_s": b, "idle_end_s": i}
            for name, b, i in zip(NAMES, busy, idle, strict=True)}


def cluster_records() -> list:
    """Two cluster points: slow-1 holds up the 3-worker one, slow-0 the 2-worker one."""
    return [rec("distributed", 1, 3.4, worker_names=NAMES[:1],
                worker_activity={"fast-0": {"tasks": 4.0, "busy_s": 3.3, "idle_end_s": 0.0}}),
            rec("distributed", 2, 4.9, worker_names=NAMES[:2],
                worker_activity={"fast-0": {"tasks": 4.0, "busy_s": 1.6, "idle_end_s": 3.1},
                                 "slow-0": {"tasks": 4.0, "busy_s": 4.8, "idle_end_s": 0.0}}),
            rec("distributed", 3, 4.4, worker_names=NAMES,
                worker_activity=activity((2.9, 0.4, 0.0)))]


def bars(ax) -> list:  # noqa: ANN001
    return [p for p in ax.patches if p.get_width() > 0]


def test_one_panel_per_cluster_point_with_the_last_finisher_in_red():
    figure = plots.stragglers_figure(summarize(cluster_records()))
    axes = figure.get_axes()
    assert len(axes) == 2  # the 1-worker point has nobody to wait for
    three = next(ax for ax in axes if "×3" in ax.get_title())
    assert [t.get_text() for t in three.get_yticklabels()] == list(NAMES)
    solid = [p for p in three.patches if p.get_facecolor() != to_rgba("0.85")]
    # Worker bars run to median - idle: 4.4 - 2.9, 4.4 - 0.4, 4.4 (in the sweep's order).
    assert [round(p.get_width(), 6) for p in solid] == [1.5, 4.0, 4.4]
    assert [p.get_facecolor() == RED for p in solid] == [False, False, True]
    idle = [round(p.get_width(), 6) for p in three.patches if p not in solid]
    assert idle == [2.9, 0.4, 0.0]
    assert "4 tasks, 3.9 s busy" in [t.get_text() for t in three.texts]


def test_a_run_without_cluster_points_gets_a_note_not_an_empty_grid():
    figure = plots.stragglers_figure(summarize(scaling_records()))
    assert figure.get_axes() == []
    assert any("no cluster point" in text.get_text() for text in figure.texts)


def test_many_points_are_capped_and_the_title_says_so():
    rows = summarize(cluster_records())
    many = pd.concat([rows[rows["workers"] == 3]] * (plots.MAX_STRAGGLER_PANELS + 2),
                     ignore_index=True)
    figure = plots.stragglers_figure(many)
    assert len(figure.get_axes()) == plots.MAX_STRAGGLER_PANELS
    assert f"first {plots.MAX_STRAGGLER_PANELS} of {plots.MAX_STRAGGLER_PANELS + 2}" in \
        figure.get_suptitle()


def test_build_report_draws_the_chart_into_png_markdown_and_html(tmp_path):
    run_dir = write_run(tmp_path / "run-1", cluster_records())
    report = build_report(run_dir)
    assert not report.warnings and report.stragglers_png == run_dir / "stragglers.png"
    assert report.stragglers_png in report.files
    assert report.stragglers_png.read_bytes().startswith(PNG_MAGIC)
    markdown = report.report_md.read_text()
    assert markdown.index("## Stragglers") < markdown.index("![stragglers](stragglers.png)")
    html = report.report_html.read_text()
    start = html.index('<figure id="figure-stragglers"')
    chart = html[start:html.index("</figure>", start)]
    assert "<svg" in chart and chart.count('<g id="axes_') == 2


def test_no_chart_file_when_no_point_has_a_straggler_view(tmp_path):
    run_dir = write_run(tmp_path / "run-1", scaling_records())
    report = build_report(run_dir)
    assert report.stragglers_png is None and not (run_dir / "stragglers.png").exists()
    assert "stragglers.png" not in report.report_md.read_text()
