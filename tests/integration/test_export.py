"""``clusterbench export`` on real runs: pytest-benchmark's own ``compare`` reads the JSON,
Parquet and CSV hold the same rows, bad input is one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import cli

pytestmark = pytest.mark.integration

NAPS = "tests.sample_workloads:NAPS"
WRONG = "tests.sample_workloads:WRONG"  # answers wrong in parallel: those points fail


def _run(tmp: Path, name: str, nap: float, workloads: list[str]) -> Path:
    scenario = tmp / f"{name}.yml"
    listed = ", ".join(f"{{name: '{w}', size: tiny}}" for w in workloads)
    scenario.write_text(f"name: {name}\nworkloads: [{listed}]\n"
                        "schedulers: [synchronous, threads]\nworkers: 1,2\nrepeats: 2\n"
                        "warmup: 0\n")
    results = tmp / name
    done = cli("run", str(scenario), "--results-dir", str(results),
               env={"CLUSTERBENCH_TEST_NAP": str(nap)})
    assert done.returncode in (0, 1), done.stderr  # 1: the WRONG points failed, as meant
    (run_dir,) = results.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("export")
    return {"a": _run(tmp, "a", 0.02, [NAPS]), "b": _run(tmp, "b", 0.05, [NAPS, WRONG])}


def _count(run_dir: Path) -> int:
    return len((run_dir / "records.jsonl").read_text().splitlines())


def test_pytest_benchmark_compare_reads_two_exported_runs(runs, tmp_path: Path) -> None:
    a, b = tmp_path / "A.json", tmp_path / "B.json"
    done_a = cli("export", str(runs["a"]), "--format", "pytest-benchmark", "-o", str(a))
    done_b = cli("export", str(runs["b"]), "--format", "pytest-benchmark", "-o", str(b))
    assert done_a.returncode == 0 and done_b.returncode == 0, done_a.stderr + done_b.stderr
    assert "note" not in done_a.stderr and "wrote" in done_a.stdout
    # WRONG in threads fails: both its points are left out, and stderr says so.
    for workers in (1, 2):
        assert f"{WRONG}[tiny-threads-{workers}]: left out" in done_b.stderr
    names = [bench["name"] for bench in json.loads(b.read_text())["benchmarks"]]
    assert f"{WRONG}[tiny-synchronous-1]" in names and f"{WRONG}[tiny-threads-2]" not in names
    compare = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", str(a),
                              str(b)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert compare.returncode == 0, compare.stderr
    table = compare.stdout
    for column in ("Min", "Max", "Mean", "StdDev", "Median", "IQR", "Outliers", "OPS",
                   "Rounds", "Iterations"):
        assert column in table
    assert f"benchmark '{NAPS}/tiny': 6 tests" in table
    assert f"benchmark '{WRONG}/tiny': 1 tests" in table
    # Each row is "<name> (<file, less the files' common prefix>)".
    rows = set(re.findall(r"^(\S+\[\S+\]) +\((?:\S*/)?(A|B)\) ", table, re.MULTILINE))
    assert rows == {(f"{NAPS}[tiny-{point}]", run) for point in
                    ("synchronous-1", "threads-1", "threads-2") for run in "AB"} | {
        (f"{WRONG}[tiny-synchronous-1]", "B")}, table


def test_exported_stats_match_the_records(runs, tmp_path: Path) -> None:
    out = tmp_path / "A.json"
    assert cli("export", str(runs["a"]), "--format", "pytest-benchmark",
               "-o", str(out)).returncode == 0
    document = json.loads(out.read_text())
    records = [json.loads(line) for line in (runs["a"] / "records.jsonl").read_text().splitlines()]
    for bench in document["benchmarks"]:
        mine = sorted(r["seconds"] for r in records
                      if f"{r['workload']}[{r['size']}-{r['scheduler']}-{r['workers']}]"
                      == bench["name"])
        assert sorted(bench["stats"]["data"]) == mine and bench["stats"]["rounds"] == 2
        assert bench["stats"]["min"] == mine[0] and bench["stats"]["max"] == mine[-1]
    assert document["machine_info"]["cpu"]["count"]
    assert set(document) == {"machine_info", "commit_info", "benchmarks", "datetime",
                             "version"}


def test_parquet_and_csv_hold_the_same_rows_one_per_repeat(runs, tmp_path: Path) -> None:
    csv, parquet = tmp_path / "b.csv", tmp_path / "b.parquet"
    assert cli("export", str(runs["b"]), "--format", "csv", "-o", str(csv)).returncode == 0
    done = cli("export", str(runs["b"]), "--format", "parquet", "-o", str(parquet))
    assert done.returncode == 0, done.stderr
    from_csv, from_parquet = pd.read_csv(csv), pd.read_parquet(parquet)
    assert len(from_parquet) == _count(runs["b"]) == len(from_csv)
    assert {"run_id", "seconds", "verified", "error", "metrics.tasks",
            "worker_names"} <= set(from_parquet.columns)
    assert (from_parquet["run_id"] == runs["b"].name).all()
    assert not from_parquet["verified"].all()  # failed repeats are rows too
    pd.testing.assert_frame_equal(_comparable(from_csv), _comparable(from_parquet))


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Dtypes aside: every cell as text, every missing value ("", None, NaN) alike."""
    return frame.astype(object).where(frame.notna(), None).map(
        lambda v: "" if v is None else str(v))


@pytest.mark.parametrize(("args", "message"), [
    (["/nonexistent/run", "--format", "csv", "-o", "{tmp}/x.csv"],
     "/nonexistent/run: no such run directory"),
    (["{tmp}", "--format", "csv", "-o", "{tmp}/x.csv"], "no records.jsonl here"),
    (["{a}", "--format", "parquett", "-o", "{tmp}/x"], "(did you mean 'parquet'?)"),
    (["{a}", "--format", "csv", "-o", "/nonexistent/dir/x.csv"], "-o /nonexistent/dir/x.csv"),
    (["{a}", "--format", "pytest-benchmark", "-o", "/nonexistent/dir/x.json"],
     "cannot write"),
    (["{a}", "--format", "parquet", "-o", "{tmp}"], "is a directory"),
])
def test_bad_input_is_one_line_without_traceback(runs, tmp_path: Path, args, message) -> None:
    done = cli("export", *(arg.format(tmp=tmp_path, a=runs["a"]) for arg in args))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
