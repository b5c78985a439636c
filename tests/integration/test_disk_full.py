"""A disk that fills up in the middle of ``clusterbench run`` (a real tmpfs, real processes):
the run stops with one line naming the directory and its free space, exit 1, no traceback,
every record on disk complete, and no process it started left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from clusterbench.results.record import Record
from tests.fixtures.tmpfs import fill, tiny_tmpfs
from tests.helpers import ROOT

pytestmark = pytest.mark.integration


def _records_file(results: Path) -> Path | None:
    files = list(results.glob("*/records.jsonl"))
    return files[0] if files else None


def _lines(path: Path | None) -> int:
    return path.read_bytes().count(b"\n") if path else 0


def test_a_full_disk_stops_the_run_and_keeps_every_record(tmp_path):
    with tiny_tmpfs(tmp_path / "disk", "1m") as results:
        run = subprocess.Popen(
            [sys.executable, "-m", "clusterbench", "run", "scaling", "--size", "tiny",
             "--workloads", "montecarlo", "--schedulers", "synchronous,processes",
             "--workers", "1,2", "--repeats", "10", "--results-dir", str(results)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        started: dict[int, psutil.Process] = {}
        try:
            deadline = time.monotonic() + 60
            # The processes pool exists from its point's first repeat on: wait for both.
            while (_lines(_records_file(results)) < 2 or len(started) < 2) \
                    and time.monotonic() < deadline:
                assert run.poll() is None, run.communicate()
                started |= {p.pid: p for p in psutil.Process(run.pid).children(recursive=True)}
                time.sleep(0.05)
            fill(results)  # the run's next writes find no room
            filled = time.monotonic()
            stdout, stderr = run.communicate(timeout=60)
            stopped = time.monotonic() - filled
            _, alive = psutil.wait_procs(list(started.values()), timeout=10)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        path = _records_file(results)
        text = path.read_text()
        run_dir = path.parent
        kept = [Record.from_dict(json.loads(line)) for line in text.splitlines()]

    print(stderr.splitlines()[-1])
    print(f"stopped {stopped:.2f} s after the disk filled; {len(kept)} records kept; "
          f"{len(started)} processes started")
    assert run.returncode == 1, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("clusterbench: error:")]
    assert len(errors) == 1, stderr
    (line,) = errors
    assert f"{run_dir}: no space left on device while " in line and " free)" in line
    assert f"the {len(kept)} record(s) before it are kept" in line
    assert f"clusterbench run --resume {run_dir}" in line
    assert text.endswith("\n") and len(kept) >= 2
    assert all(r.verified and r.run_id == run_dir.name for r in kept)
    assert not alive, alive
    assert stopped < 30
