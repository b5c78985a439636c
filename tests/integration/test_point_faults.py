"""Faults during a point, with real processes: a host throttled to nearly nothing and a cut
link (virtual lab: network namespaces, sshd, cgroup quotas), a scheduler killed mid-sweep (a
``dask scheduler`` process this test starts), and a worker lost under ``clusterbench up``.

Each test bounds the run's time, checks what the records say, and checks afterwards that no
process it started is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest
import yaml

from clusterbench.cluster.lifecycle import pid_alive, read_state, state_dir
from clusterbench.lab import cgroups, processes_in
from tests.fixtures.lab import make_lab
from tests.helpers import ROOT, cli, stop_any_cluster

pytestmark = pytest.mark.integration
OURS = (b"dask_worker", b"dask_scheduler", b"/tmp/clusterbench-")


# --- helpers ---------------------------------------------------------------------------------

def _records(results: Path) -> list[dict]:
    files = list(results.glob("*/records.jsonl"))
    if not files:
        return []
    return [json.loads(line) for line in files[0].read_text().splitlines() if line.strip()]


def _scenario(tmp_path: Path, params: dict | None = None, **fields) -> Path:  # noqa: ANN003
    # min_task_seconds 0: 4 tasks per worker whatever this machine's calibrated overhead (on
    # a slow machine tiny's 400 paths made one task, and one of the 2 workers sat idle)
    montecarlo = {"name": "montecarlo", "params": {"min_task_seconds": 0} | (params or {})}
    data = {"name": "faults", "size": "tiny", "workloads": [montecarlo],
            "schedulers": ["distributed"], "workers": "1,2", "repeats": 3, "warmup": 1} | fields
    path = tmp_path / "faults.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _start_run(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "clusterbench", "run", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for_records(run: subprocess.Popen, results: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(_records(results)) < count:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, f"fewer than {count} records in {timeout} s"
        time.sleep(0.1)


def _stop(run: subprocess.Popen) -> None:
    """Teardown: a run still going is killed with its whole process group."""
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(10)


def _no_process_left(processes: list[psutil.Process], timeout: float = 10.0) -> list:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return alive


def _ours_in_lab(lab) -> list[int]:  # noqa: ANN001 - a LabState
    return [pid for pids in processes_in(lab).values() for pid in pids if _is_ours(pid)]


def _is_ours(pid: int) -> bool:
    try:
        return any(tag in Path(f"/proc/{pid}/cmdline").read_bytes() for tag in OURS)
    except OSError:
        return False


def _nothing_of_ours_left(lab, timeout: float = 10.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while _ours_in_lab(lab):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _cpu_cgroup(lab, host: str) -> Path:  # noqa: ANN001
    return next(Path(p) for p in lab.host(host).cgroups if cgroups.controller(Path(p)) == "cpu")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- faults on the lab -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, "pi:2x0.5cpu/512MB")


@pytest.mark.root
def test_throttled_host_hits_the_deadline_and_the_sweep_goes_on(lab, tmp_path):
    results = tmp_path / "results"
    # One task per worker: a task runs on its worker from the start, so pi1 cannot steal
    # pi2's work and finish the repeat in time (with 4 each it did, on a fast machine).
    scenario = _scenario(tmp_path, params={"tasks_per_worker": 1}, timeout=6)
    run = _start_run(str(scenario), "-i", lab.inventory, "--results-dir", str(results))
    quota = _cpu_cgroup(lab, "pi2") / "cpu.cfs_quota_us"
    normal = quota.read_text().strip()
    try:
        _wait_for_records(run, results, 2, timeout=120)
        before = len(_records(results))
        children = psutil.Process(run.pid).children(recursive=True)
        quota.write_text(str(cgroups.MIN_QUOTA_US))  # pi2: 1 % of a core, from now on
        throttled = time.monotonic()
        stdout, stderr = run.communicate(timeout=150)
        elapsed = time.monotonic() - throttled
    finally:
        quota.write_text(normal)
        _stop(run)
    records = _records(results)
    after = records[before:]
    print(f"throttled host: run ended {elapsed:.1f} s after the throttle; "
          f"{sum(1 for r in after if r['metrics'].get('timed_out'))} repeats past the deadline")
    assert run.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert "run directory:" in stdout
    overdue = [r for r in after if r["metrics"].get("timed_out")]
    assert overdue, [(r["workers"], r["error"]) for r in after]
    assert all(r["workers"] == 2 and not r["verified"] for r in overdue)
    assert "exceeded its deadline of 6 s" in overdue[0]["error"]
    assert any(r["attempt"] == 1 for r in overdue)  # retried once (retries: 1)
    # pi1 alone was not throttled: its point went on being measured
    assert any(r["workers"] == 1 and r["verified"] for r in after)
    # a counted repeat ran on exactly its planned workers
    assert all(sorted(r["executed_workers"]) == sorted(r["worker_names"])
               for r in records if r["verified"] and not r["worker_set_changed"])
    assert elapsed < 120, elapsed
    assert not _no_process_left(children)
    assert _nothing_of_ours_left(lab)


@pytest.mark.root
def test_cut_link_during_a_point_is_not_a_verified_full_width_point(lab, tmp_path):
    results = tmp_path / "results"
    scenario = _scenario(tmp_path, timeout=6)
    run = _start_run(str(scenario), "-i", lab.inventory, "--results-dir", str(results))
    veth = lab.host("pi2").veth
    try:
        _wait_for_records(run, results, 2, timeout=120)
        before = len(_records(results))
        children = psutil.Process(run.pid).children(recursive=True)
        subprocess.run(["ip", "link", "set", veth, "down"], check=True)  # pi2's cable pulled
        cut = time.monotonic()
        stdout, stderr = run.communicate(timeout=150)
        elapsed = time.monotonic() - cut
    finally:
        subprocess.run(["ip", "link", "set", veth, "up"], check=False)
        _stop(run)
    records = _records(results)
    after = records[before:]
    print(f"cut link: run ended {elapsed:.1f} s after the cut; after it: "
          f"{[(r['workers'], r['attempt'], r['executed_workers'], r['error']) for r in after]}")
    assert run.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert "run directory:" in stdout
    full = [r for r in after if r["workers"] == 2]
    assert full and not any(r["verified"] and not r["worker_set_changed"]
                            and "pi2-0" not in r["executed_workers"] for r in full)
    assert any(r["error"] for r in full)
    assert any(r["attempt"] == 1 for r in full)  # retried (retries: 1)
    # the sweep went on: pi1's point ran after the cut, on pi1 alone
    assert any(r["workers"] == 1 and r["verified"] for r in after)
    assert all(sorted(r["executed_workers"]) == sorted(r["worker_names"])
               for r in records if r["verified"] and not r["worker_set_changed"])
    assert elapsed < 120, elapsed
    assert not _no_process_left(children)
    assert _nothing_of_ours_left(lab, timeout=30)


# --- the scheduler lost ----------------------------------------------------------------------

@pytest.fixture()
def external_cluster():
    """A ``dask scheduler`` and a 2-worker ``dask worker`` (Nannies) on this machine, as
    someone else's cluster; stopped (killed) afterwards."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT,
             "start_new_session": True}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                  "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], **quiet)
    workers = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
                                "--death-timeout", "20"], **quiet)
    started = [scheduler, workers]
    try:
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, scheduler
    finally:
        for popen in started:
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(10)
    assert not [p for p in psutil.process_iter(["cmdline"])
                if address in " ".join(p.info["cmdline"] or [])]


def test_scheduler_killed_mid_sweep_ends_the_distributed_points_in_one_line(
        tmp_path, external_cluster):
    address, scheduler = external_cluster
    results = tmp_path / "results"
    run = _start_run("scaling", "--scheduler-address", address, "--size", "tiny",
                     "--workloads", "montecarlo", "--schedulers", "distributed,processes",
                     "--workers", "1,2", "--repeats", "3", "--results-dir", str(results))
    try:
        _wait_for_records(run, results, 3, timeout=120)
        children = psutil.Process(run.pid).children(recursive=True)
        scheduler.send_signal(signal.SIGKILL)
        killed, killed_at = time.monotonic(), datetime.now(timezone.utc)
        stdout, stderr = run.communicate(timeout=60)
        elapsed = time.monotonic() - killed
    finally:
        _stop(run)
    print(f"scheduler killed: the run exited {elapsed:.1f} s later")
    gone = f"the scheduler at {address} is gone: connection refused"
    lines = [line for line in stderr.splitlines() if "is gone" in line]
    assert run.returncode == 1, stderr
    assert "Traceback" not in stderr and "ERROR" not in stderr, stderr
    assert gone in " ".join(stderr.split()), stderr
    assert len(lines) == 1, lines
    assert "run directory:" in stdout
    records = _records(results)
    lost = [r for r in records if r["error"] and "is gone" in r["error"]]
    assert len(lost) == 1 and lost[0]["scheduler"] == "distributed"
    # the local points were all measured; no distributed repeat ran after the loss
    assert len([r for r in records if r["scheduler"] == "processes" and r["verified"]]) == 6
    assert records.index(lost[0]) == max(i for i, r in enumerate(records)
                                         if r["scheduler"] == "distributed")
    # the loss is seen at once (the record's timestamp has whole seconds); the rest of the
    # run (the processes points, the report's plots) takes what the machine needs
    noticed = (datetime.fromisoformat(lost[0]["timestamp"]) - killed_at).total_seconds()
    assert noticed < 10, noticed
    assert elapsed < 60, elapsed
    assert not _no_process_left(children)


# --- status ----------------------------------------------------------------------------------

@pytest.mark.root
def test_status_shows_lost_and_left_out_workers(lab, tmp_path):
    data = yaml.safe_load(Path(lab.inventory).read_text())
    ghost = dict(data["hosts"][1], name="ghost", python="/nonexistent/python3")
    data |= {"hosts": [*data["hosts"], ghost], "min_workers": 2}
    inventory = tmp_path / "with-ghost.yml"
    inventory.write_text(yaml.safe_dump(data))
    try:
        up = cli("up", str(inventory), "--timeout", "60", timeout=120)
        assert up.returncode == 0, up.stderr
        state = read_state(next(state_dir().glob("cluster-lab.json")))
        for pid in processes_in(lab)["pi2"]:  # pi2's Nanny and worker: nothing restarts it
            if _is_ours(pid):
                os.kill(pid, signal.SIGKILL)
        time.sleep(2)
        status = cli("status")
    finally:
        stop_any_cluster()
    print(status.stdout)
    assert status.returncode == 0, status.stderr
    rows = {line.split("│")[1].strip(): line for line in status.stdout.splitlines()
            if line.count("│") > 3}
    assert "running" in rows["pi1-0"]
    assert "lost" in rows["pi2-0"] and "pi2" in rows["pi2-0"]
    assert "left out" in rows["ghost-0"] and "ghost" in rows["ghost-0"]
    assert not pid_alive(state["pid"])
    assert _nothing_of_ours_left(lab)
