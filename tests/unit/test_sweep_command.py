"""``down``'s leftover sweep command, run by a real local shell: it waits (bounded by wall
time) for the session's processes to exit, lists and kills what is left, removes the
session directory, and never matches itself."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import psutil

from clusterbench.launchers.ssh.commands import session_dir
from clusterbench.launchers.ssh.sweep import LEFTOVER_WAIT, sweep_command


def _tagged(session: str, seconds: float) -> subprocess.Popen:
    """A process whose command line carries the session directory, like a worker's."""
    return subprocess.Popen(["sh", "-c", f"sleep {seconds}; : {session_dir(session)}/w"])


def _sweep(session: str) -> tuple[list[str], float]:
    started = time.monotonic()
    out = subprocess.run(["sh", "-c", sweep_command(session)], capture_output=True,
                         text=True, timeout=30).stdout
    return [line for line in out.splitlines() if line.strip()], time.monotonic() - started


def test_a_process_exiting_within_the_wait_is_not_a_leftover_and_the_dir_is_removed():
    session = uuid.uuid4().hex[:12]
    Path(session_dir(session)).mkdir()
    exiting = _tagged(session, 0.6)
    left, _ = _sweep(session)
    exiting.wait(5)
    assert left == [] and not Path(session_dir(session)).exists()


def test_a_process_still_there_after_the_wait_is_listed_and_killed():
    session = uuid.uuid4().hex[:12]
    stuck = _tagged(session, 60)
    try:
        left, seconds = _sweep(session)
        assert len(left) == 1 and str(stuck.pid) in left[0], left
        assert stuck.wait(5) == -9
        assert seconds >= LEFTOVER_WAIT  # it did wait first (a lower bound: load cannot
        # make it shorter)
    finally:
        if stuck.poll() is None:
            stuck.kill()


def test_nothing_of_the_session_running_lists_nothing_and_leaves_nothing():
    session = uuid.uuid4().hex[:12]
    left, _ = _sweep(session)
    assert left == []
    assert not any(session in " ".join(p.info["cmdline"] or [])
                   for p in psutil.process_iter(["cmdline"]) if p.pid != os.getpid())


def _worker_with_pid_file(session: str, seconds: float) -> subprocess.Popen:
    """A tagged process that recorded its PID, as a worker's command does (``echo $$``)."""
    directory = Path(session_dir(session))
    directory.mkdir(exist_ok=True)
    process = _tagged(session, seconds)
    (directory / "w-0.pid").write_text(f"{process.pid}\n")
    return process


def test_the_wait_polls_recorded_pids_not_the_process_table(tmp_path):
    # Each pgrep reads every process's command line; on a 0.03-CPU host the polls competed
    # with the exiting worker.  A shim counts the sweep's pgrep calls.
    real = subprocess.run(["sh", "-c", "command -v pgrep"], capture_output=True,
                          text=True, check=True).stdout.strip()
    calls = tmp_path / "calls"
    shim = tmp_path / "bin" / "pgrep"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho x >> {calls}\nexec {real} "$@"\n')
    shim.chmod(0o755)
    session = uuid.uuid4().hex[:12]
    worker = _worker_with_pid_file(session, 1.0)
    started = time.monotonic()
    out = subprocess.run(["sh", "-c", sweep_command(session)], capture_output=True, text=True,
                         timeout=30, env=os.environ | {"PATH": f"{shim.parent}:"
                                                                f"{os.environ['PATH']}"})
    seconds = time.monotonic() - started
    worker.wait(5)
    assert out.stdout.strip() == "" and not Path(session_dir(session)).exists()
    assert seconds >= 0.9, "it waited for the recorded worker to exit"
    # one scan once the recorded PIDs are gone, one to list what is left (was one per poll)
    assert len(calls.read_text().split()) == 2
