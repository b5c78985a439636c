"""``clusterbench compare`` on real runs whose speed differs by a known amount."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import cli

pytestmark = pytest.mark.integration


def _run(tmp_path: Path, name: str, nap: float, params: str = "{}") -> Path:
    scenario = tmp_path / f"{name}.yml"
    scenario.write_text(
        "name: naps\n"
        f"workloads: [{{name: 'tests.sample_workloads:NAPS', size: tiny, params: {params}}}]\n"
        "schedulers: [synchronous, threads]\nworkers: 1,2\nrepeats: 3\nwarmup: 0\n")
    results = tmp_path / name
    # The same scenario; only the nap the workload reads from the environment differs.
    done = cli("run", str(scenario), "--results-dir", str(results),
               env={"CLUSTERBENCH_TEST_NAP": str(nap)})
    assert done.returncode == 0, done.stderr
    (run_dir,) = results.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("compare")
    return {"fast": _run(tmp, "fast", 0.02), "slow": _run(tmp, "slow", 0.2),
            "other-params": _run(tmp, "other-params", 0.02, params="{seconds: 0.02}")}


def test_a_clearly_slower_run_is_flagged_and_fails_on_request(runs) -> None:
    done = cli("compare", str(runs["fast"]), str(runs["slow"]), "--fail-on-slower")
    assert done.returncode == 1, done.stderr
    assert "3 slower, 0 faster, 0 unclear, 0 same" in done.stdout
    # Two naps of 0.2 s vs two of 0.02 s: 10x wherever they run, less a few ms of overhead.
    ratios = [float(r) for r in re.findall(r"NAPS .* (\d+\.\d\d)× .* slower", done.stdout)]
    assert len(ratios) == 3 and all(7 < r <= 10.5 for r in ratios), done.stdout


def test_the_other_way_round_is_faster_and_exits_0(runs) -> None:
    done = cli("compare", str(runs["slow"]), str(runs["fast"]), "--fail-on-slower")
    assert done.returncode == 0, done.stderr
    assert "0 slower, 3 faster" in done.stdout


def test_a_run_against_itself_is_the_same_without_machine_warnings(runs) -> None:
    done = cli("compare", str(runs["fast"]), str(runs["fast"]))
    assert done.returncode == 0, done.stderr
    assert "0 slower, 0 faster, 0 unclear, 3 same" in done.stdout
    assert "warning" not in done.stderr


def test_points_that_measured_different_work_are_not_compared(runs) -> None:
    done = cli("compare", str(runs["fast"]), str(runs["other-params"]), "--fail-on-slower")
    assert done.returncode == 0, done.stderr
    assert "0 slower, 0 faster, 0 unclear, 0 same, 3 params differ" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["{fast}", "/nonexistent/run"], "/nonexistent/run: no such run directory"),
    (["{fast}", "{fast}", "--threshold", "5"], "--threshold 5.0: must be a fraction in [0, 1)"),
    (["{fast}", "{empty}"], "no records.jsonl here"),
])
def test_bad_input_is_one_line_without_traceback(runs, tmp_path, args, message) -> None:
    (tmp_path / "empty").mkdir()
    paths = {"fast": runs["fast"], "empty": tmp_path / "empty"}
    done = cli("compare", *(a.format(**paths) for a in args))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr
    assert "Traceback" not in done.stderr
