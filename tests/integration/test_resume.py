"""``clusterbench run --resume``: a real run is interrupted with Ctrl-C and completed, exactly
its missing (point, round) items in the original order; a changed environment is refused
unless forced; options that would change the run are usage errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from clusterbench.runner.plan import plan_points, shuffled_round
from clusterbench.runner.resume import point_key, scenario_from_environment
from tests.helpers import ROOT, cli

pytestmark = pytest.mark.integration
TINY = ("run", "scaling", "--size", "tiny", "--workloads", "montecarlo")


def _records(run_dir: Path) -> list[dict]:
    path = run_dir / "records.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _items(records: list[dict]) -> Counter:
    return Counter((r["workload"], r["size"], r["scheduler"], r["workers"], r["round"])
                   for r in records)


def _interrupt_after(results: Path, count: int, *args: str) -> tuple[Path, str, int]:
    """Start ``run`` with *args*, Ctrl-C its process group once *count* records are on disk."""
    run = subprocess.Popen([sys.executable, "-m", "clusterbench", *TINY, *args,
                            "--results-dir", str(results)],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert run.poll() is None, run.communicate()
            run_dirs = list(results.glob("*"))
            if run_dirs and len(_records(run_dirs[0])) >= count:
                break
            time.sleep(0.05)
        os.killpg(run.pid, signal.SIGINT)  # as a terminal's Ctrl-C
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    (run_dir,) = results.iterdir()
    return run_dir, stderr, run.returncode


def _expected_order(run_dir: Path, done: Counter) -> list[tuple]:
    """The missing items in the order the original run would have run them."""
    environment = json.loads((run_dir / "environment.json").read_text())
    scenario = scenario_from_environment(environment, run_dir)
    points = plan_points(scenario, os.cpu_count() or 1)
    return [point_key(p) + (r,) for r in range(scenario.repeats)
            for p in shuffled_round(points, scenario.seed, r) if not done[point_key(p) + (r,)]]


def test_an_interrupted_run_resumes_exactly_its_missing_repeats(tmp_path):
    results = tmp_path / "results"
    run_dir, stderr, code = _interrupt_after(
        results, 3, "--schedulers", "synchronous,processes", "--workers", "1,2",
        "--repeats", "4", "--seed", "7")
    assert code == 130, stderr
    assert f"resume with: clusterbench run --resume {run_dir}" in stderr.splitlines()
    before_text = (run_dir / "records.jsonl").read_text()
    before = _records(run_dir)
    environment = json.loads((run_dir / "environment.json").read_text())
    expected = _expected_order(run_dir, _items(before))
    assert 3 <= len(before) < 12 and expected

    start = time.monotonic()
    done = cli("run", "--resume", str(run_dir), timeout=120)
    print(f"resumed {len(expected)} missing repeats in {time.monotonic() - start:.1f} s")
    assert done.returncode == 0, done.stderr
    assert f"{len(expected)} of 12 repeats missing" in done.stderr
    after = _records(run_dir)
    assert (run_dir / "records.jsonl").read_text().startswith(before_text)  # appended
    new = after[len(before):]
    assert [(r["workload"], r["size"], r["scheduler"], r["workers"], r["round"])
            for r in new] == expected  # the original order, done items skipped
    items = _items(after)
    assert len(items) == 3 * 4 and set(items.values()) == {1}  # complete, no duplicates
    assert [r["position"] for r in after] == list(range(1, 13))
    assert all(r["run_id"] == run_dir.name and r["verified"] for r in after)
    resumed = json.loads((run_dir / "environment.json").read_text())
    assert resumed["scenario"] == environment["scenario"] and resumed["scenario"]["seed"] == 7
    assert resumed["calibration"] == environment["calibration"]  # the run's first one stays
    (entry,) = resumed["resumes"]
    assert entry["missing"] == len(expected) and entry["forced"] == []
    assert entry["calibration"]["task_overhead"]
    summary = (run_dir / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + 3 and "report.md" in {p.name for p in run_dir.iterdir()}
    assert f"run directory: {run_dir}" in done.stdout.replace("\n", "")


@pytest.fixture()
def half_done(tmp_path) -> Path:
    """A complete 4-repeat run whose last 2 records are cut off, as after an interruption."""
    results = tmp_path / "results"
    done = cli(*TINY, "--schedulers", "synchronous,threads", "--workers", "1", "--repeats", "2",
               "--results-dir", str(results), timeout=120)
    assert done.returncode == 0, done.stderr
    (run_dir,) = results.iterdir()
    path = run_dir / "records.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))
    return run_dir


def test_resume_refuses_changed_packages_unless_forced(half_done):
    environment_json = half_done / "environment.json"
    environment = json.loads(environment_json.read_text())
    installed = environment["packages"]["dask"]
    environment["packages"]["dask"] = "0.0.1"
    environment_json.write_text(json.dumps(environment))
    records = (half_done / "records.jsonl").read_text()

    refused = cli("run", "--resume", str(half_done), timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"clusterbench: error: cannot resume {half_done}: changed since the run started: "
        f"dask 0.0.1 → {installed} (--force resumes anyway)")
    assert (half_done / "records.jsonl").read_text() == records

    forced = cli("run", "--resume", str(half_done), "--force", timeout=120)
    assert forced.returncode == 0, forced.stderr
    assert f"warning: resuming although dask 0.0.1 → {installed};" in forced.stderr
    items = _items(_records(half_done))
    assert len(items) == 2 * 2 and set(items.values()) == {1}
    resumes = json.loads(environment_json.read_text())["resumes"]
    assert resumes[-1]["forced"] == [f"dask 0.0.1 → {installed}"]

    again = cli("run", "--resume", str(half_done), "--force", timeout=60)
    assert again.returncode == 0, again.stderr
    assert "nothing to resume: all 4 repeats are recorded" in again.stdout
    assert len(_records(half_done)) == 4


@pytest.mark.parametrize(("args", "words"), [
    (["--workers", "2"], "--workers would change it"),
    (["--seed", "3", "--repeats", "5"], "--repeats, --seed would change it"),
    (["scaling"], "a scenario would change it"),
])
def test_resume_with_options_that_change_the_run_is_a_usage_error(tmp_path, args, words):
    done = cli("run", "--resume", str(tmp_path), *args, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"clusterbench: error: --resume runs the recorded "
                                   f"scenario; {words} (drop "
                                   f"{'them' if ',' in words else 'it'})")


def test_resume_of_a_directory_that_is_no_run_is_a_usage_error(tmp_path):
    done = cli("run", "--resume", str(tmp_path), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"clusterbench: error: {tmp_path}: not a run directory "
                                   f"(no environment.json)")
