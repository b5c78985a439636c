"""Helpers shared by the integration tests: the CLI as a user runs it, and run records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 600,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m clusterbench ARGS`` from the repository root and capture its output.

    *env* adds to (or overrides) this process's environment for the command.
    """
    return subprocess.run([sys.executable, "-m", "clusterbench", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=os.environ | (env or {}))


def only_records(results: Path) -> list[dict]:
    """The records of the single run directory under *results*, in point order (workload,
    size, scheduler, workers, round): repeats run interleaved, in a seeded shuffle."""
    (run_dir,) = results.iterdir()
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    return sorted(records, key=lambda r: (r["workload"], r["size"], r["scheduler"], r["workers"],
                                          r.get("round", 0), r.get("attempt", 0)))


def run_attached(results: Path, workers: str = "1,2") -> list[dict]:
    """``run scaling --attach`` of montecarlo[tiny] on the running cluster; its records."""
    run = cli("run", "scaling", "--attach", "--size", "tiny", "--workloads", "montecarlo",
              "--schedulers", "distributed", "--workers", workers, "--repeats", "1",
              "--results-dir", str(results))
    assert run.returncode == 0, run.stderr
    return only_records(results)


def stop_any_cluster() -> None:
    """``clusterbench down`` if a test left a cluster up (teardown of cluster tests)."""
    from clusterbench.cluster.lifecycle import state_dir

    if list(state_dir().glob("cluster-*.json")):
        cli("down")
