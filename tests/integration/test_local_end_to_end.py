"""End to end through the CLI on real LocalCluster processes (no mocks)."""

from __future__ import annotations

import json
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from clusterbench.cluster.lifecycle import pid_alive, read_state, state_dir
from tests.helpers import cli, only_records, run_attached

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]



def only_run_dir(results: Path) -> Path:
    (run_dir,) = results.iterdir()
    return run_dir


def test_run_scaling_tiny_end_to_end(tmp_path):
    results = tmp_path / "results"
    done = cli("run", "scaling", "--size", "tiny", "--workloads",
               "montecarlo,randomforest,gridsearch.svc", "--workers", "1,2",
               "--repeats", "2", "--results-dir", str(results))
    assert done.returncode == 0, done.stderr + done.stdout
    run_dir = only_run_dir(results)
    assert f"run directory: {run_dir}" in done.stdout.replace("\n", "")
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    points = {(r["workload"], r["scheduler"], r["workers"]) for r in records}
    # 3 workloads × (synchronous×1 + 3 schedulers × 2 counts)
    assert len(points) == 3 * 7
    assert len(records) == 2 * len(points)
    assert all(r["verified"] and r["error"] is None for r in records)
    distributed = [r for r in records if r["scheduler"] == "distributed"]
    assert {len(r["worker_names"]) for r in distributed} == {1, 2}
    assert all(len(r["worker_names"]) == r["workers"] for r in distributed)
    environment = json.loads((run_dir / "environment.json").read_text())
    assert environment["schema_version"] == 2 and environment["cores"] == os.cpu_count()
    assert environment["packages"]["distributed"]
    summary = (run_dir / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("workload,size,scheduler,workers")
    assert len(summary) == 1 + len(points)
    assert (run_dir / "speedup.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run_dir / "efficiency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ET.parse(run_dir / "speedup.svg")
    assert "speedup.png" in (run_dir / "report.md").read_text()

    # `report` redraws everything from records.jsonl alone
    for name in ("summary.csv", "speedup.png", "speedup.svg", "efficiency.png", "report.md"):
        (run_dir / name).unlink()
    redraw = cli("report", str(run_dir))
    assert redraw.returncode == 0, redraw.stderr
    assert (run_dir / "summary.csv").read_text().splitlines() == summary


def test_failing_verification_is_recorded_loudly(tmp_path):
    results = tmp_path / "results"
    done = cli("run", "scaling", "--size", "tiny", "--workloads", "tests.sample_workloads:WRONG",
               "--workers", "1,2", "--schedulers", "synchronous,threads", "--repeats", "1",
               "--results-dir", str(results))
    assert done.returncode == 1
    assert "FAILED" in done.stderr and "did not verify" in done.stderr
    records = only_records(results)
    threads = [r for r in records if r["scheduler"] == "threads"]
    assert threads and not any(r["verified"] for r in threads)
    assert all(r["error"] == "verification failed" for r in threads)


def test_bad_inventory_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "lab.yml"
    bad.write_text("hosts:\n  - name: pi3\n    launcher: local\n    threads: four\n")
    done = cli("run", "scaling", "-i", str(bad), "--size", "tiny")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"clusterbench: error: {bad}: hosts[0] 'pi3': field 'threads': "
                                   "must be a positive integer, got 'four'")
    assert "Traceback" not in done.stderr


def test_up_status_run_attach_down_leaves_no_process(tmp_path):
    up = cli("up", "inventories/local.yml", timeout=120)
    assert up.returncode == 0, up.stderr
    (state_path,) = state_dir().glob("cluster-local.json")
    state = read_state(state_path)
    daemon, workers = state["pid"], state["local_pids"]
    assert pid_alive(daemon) and len(workers) == os.cpu_count()
    assert all(pid_alive(pid) for pid in workers)
    assert "localhost-0" in up.stdout and "dashboard: http://127.0.0.1:" in up.stdout

    again = cli("up", "inventories/local.yml")
    assert again.returncode == 4 and "already up" in again.stderr

    status = cli("status")
    assert status.returncode == 0 and "localhost-1" in status.stdout

    results = tmp_path / "results"
    records = run_attached(results)
    assert {tuple(r["worker_names"]) for r in records if r["scheduler"] == "distributed"} == {
        ("localhost-0",), ("localhost-0", "localhost-1")}

    down = cli("down")
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in [daemon, *workers]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(p) for p in [daemon, *workers])
    assert not state_path.exists()
    assert cli("status").returncode == 4
