"""SIGTERM / SIGHUP to ``clusterbench run`` stop it like Ctrl-C: every process it started
(pool processes, Nanny and worker processes) is gone within 10 s, the records measured so
far stay on disk, the exit code follows the signal, and no traceback is printed — also for
Ctrl-C, which a terminal sends to the whole process group, workers included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.integration


def _records(results: Path) -> list[dict]:
    files = list(results.glob("*/records.jsonl"))
    if not files:
        return []
    return [json.loads(line) for line in files[0].read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(("signum", "to_group"), [
    (signal.SIGTERM, False), (signal.SIGHUP, False), (signal.SIGINT, True)])
def test_signal_stops_the_run_and_everything_it_started(tmp_path, signum, to_group):
    results = tmp_path / "results"
    run = subprocess.Popen(
        [sys.executable, "-m", "clusterbench", "run", "scaling", "--size", "small",
         "--workloads", "montecarlo", "--schedulers", "processes,distributed", "--workers", "2",
         "--repeats", "20", "--results-dir", str(results)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(_records(results)) < 2 and time.monotonic() < deadline:
            assert run.poll() is None, run.communicate()
            time.sleep(0.2)
        started = psutil.Process(run.pid).children(recursive=True)
        assert len(started) >= 4  # 2 pool processes + Nannies and their workers
        if to_group:  # as a terminal's Ctrl-C: every process of the foreground group
            os.killpg(run.pid, signum)
        else:
            run.send_signal(signum)
        sent = time.monotonic()
        _, stderr = run.communicate(timeout=120)  # once >30 s under the full suite's load
        gone, alive = psutil.wait_procs(started, timeout=max(0.1, 10 - (time.monotonic() - sent)))
    finally:
        if run.poll() is None:
            run.kill()
    assert not alive, [p.info if hasattr(p, "info") else p for p in alive]
    assert run.returncode == 128 + signum
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert f"interrupted ({signal.Signals(signum).name})" in stderr
    kept = _records(results)
    assert len(kept) >= 2 and all(r["verified"] for r in kept)
