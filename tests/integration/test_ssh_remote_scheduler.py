"""Scheduler on a named lab host (``scheduler: {host: NAME}``): real sshd, netns, dask.

The lab is made by tests.fixtures.lab (skipped without root/sshd, failing in CI).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from clusterbench.cluster.lifecycle import pid_alive, read_state, state_dir
from clusterbench.lab import processes_in
from tests.fixtures.lab import make_lab
from tests.helpers import cli, only_records, run_attached

# down_after (conftest.py): whatever a test asserts, the cluster it brought up is stopped.
pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.usefixtures("down_after")]
# Our processes on a fake host: workers, the scheduler, and anything tagged with a session dir.
OURS = (b"dask_worker", b"dask_scheduler", b"/tmp/clusterbench-")


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, "pi:2x0.5cpu/512MB")


def remote_scheduler_inventory(lab, tmp_path: Path, **scheduler) -> Path:
    """The lab inventory with the scheduler on pi2 (and no local scheduler address)."""
    data = yaml.safe_load(Path(lab.inventory).read_text())
    data["scheduler"] = {"host": "pi2", **scheduler}
    path = tmp_path / "remote-scheduler.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def nothing_of_ours_left(lab, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [p for pids in processes_in(lab).values() for p in pids if _is_ours(p)]:
            return True
        time.sleep(0.2)
    return False


def _is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(tag in cmdline for tag in OURS)


def test_up_status_run_down_with_scheduler_on_a_lab_host(lab, tmp_path):
    up = cli("up", str(remote_scheduler_inventory(lab, tmp_path)))
    assert up.returncode == 0, up.stderr
    state = read_state(next(state_dir().glob("cluster-lab.json")))
    pi2 = lab.host("pi2").address
    assert state["address"].startswith(f"tls://{pi2}:")       # on pi2, over TLS
    scheduler_pids = [p for p in processes_in(lab)["pi2"] if _is_scheduler(p)]
    assert len(scheduler_pids) == 1
    assert {w["name"] for w in state["workers"]} == {"pi1-0", "pi2-0"}
    status = cli("status")
    assert status.returncode == 0 and "pi1-0" in status.stdout and pi2 in status.stdout

    results = tmp_path / "results"
    records = run_attached(results)
    assert [r["workers"] for r in records] == [1, 2] and all(r["verified"] for r in records)

    down = cli("down")
    assert down.returncode == 0, down.stderr
    assert "outlived close" not in down.stderr
    assert not pid_alive(state["pid"])
    assert nothing_of_ours_left(lab)


def test_managed_sweep_with_remote_scheduler(lab, tmp_path):
    results = tmp_path / "results"
    run = cli("run", "scaling", "-i", str(remote_scheduler_inventory(lab, tmp_path)),
              "--size", "tiny", "--workloads", "montecarlo", "--schedulers", "distributed",
              "--workers", "1,2", "--repeats", "1", "--results-dir", str(results))
    assert run.returncode == 0, run.stderr + run.stdout
    records = only_records(results)
    assert [tuple(r["worker_hosts"]) for r in records] == [("pi1",), ("pi1", "pi2")]
    assert all(r["verified"] for r in records)
    assert nothing_of_ours_left(lab)


def test_scheduler_that_cannot_start_is_one_line_and_nothing_is_left(lab, tmp_path):
    path = remote_scheduler_inventory(lab, tmp_path, python="/nonexistent/python3")
    up = cli("up", str(path), "--timeout", "20")
    assert up.returncode == 3, up.stdout + up.stderr
    line = up.stderr.strip().splitlines()[-1]
    assert line.startswith("clusterbench: error: scheduler on pi2: command ")
    assert "/nonexistent/python3" in line and "exited 127" in line
    assert "Traceback" not in up.stderr
    assert not list(state_dir().glob("cluster-lab.json"))
    assert nothing_of_ours_left(lab)


def _is_scheduler(pid: int) -> bool:
    try:
        return b"dask_scheduler" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_doctor_with_the_scheduler_on_a_lab_host(lab, tmp_path):
    # The scheduler address is pi2's, not ours: doctor must not try to listen on it.
    done = cli("doctor", "-i", str(remote_scheduler_inventory(lab, tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pi1" in done.stdout and "pi2" in done.stdout and "FAIL" not in done.stdout


def test_remote_scheduler_killed_mid_sweep_ends_in_one_line_and_leaves_nothing(lab, tmp_path):
    """A managed sweep whose scheduler runs on pi2 (over TLS): SIGKILL that scheduler after
    the first records; the run ends with one line, the summary and the run directory."""
    import json
    import os
    import signal
    import subprocess
    import sys

    results = tmp_path / "results"
    before = set(Path("/tmp").glob("clusterbench-*"))
    run = subprocess.Popen(
        [sys.executable, "-m", "clusterbench", "run", "scaling", "-i",
         str(remote_scheduler_inventory(lab, tmp_path)), "--size", "tiny", "--workloads",
         "montecarlo", "--schedulers", "distributed,synchronous", "--workers", "1,2",
         "--repeats", "4", "--results-dir", str(results)],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not list(results.glob("*/records.jsonl")):
            assert run.poll() is None, run.communicate()
            time.sleep(0.1)
        (pid_file,) = [p for p in Path("/tmp").glob("clusterbench-*/scheduler.pid")
                       if p.parent not in before]
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        killed = time.monotonic()
        stdout, stderr = run.communicate(timeout=120)
        elapsed = time.monotonic() - killed
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
    print(f"remote scheduler killed: the run exited {elapsed:.1f} s later")
    assert run.returncode == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert " ".join(stderr.split()).count("is gone:") == 1, stderr  # rich wraps lines
    assert "run directory:" in stdout
    records = [json.loads(line) for f in results.glob("*/records.jsonl")
               for line in f.read_text().splitlines() if line.strip()]
    assert len([r for r in records if r["scheduler"] == "synchronous" and r["verified"]]) == 4
    assert elapsed < 30, elapsed
    assert nothing_of_ours_left(lab)
    assert not pid_file.parent.exists(), "the session's scratch directory is removed"
