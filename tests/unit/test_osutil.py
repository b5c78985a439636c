"""The one OS toolbox: PID liveness, process trees, commands, atomic writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from clusterbench import osutil
from clusterbench.errors import CommandError


def _renamed(name: str, then: str) -> subprocess.Popen:
    """A child whose command name (``/proc/PID/stat``'s second field) is *name*."""
    code = (f"import ctypes, time; ctypes.CDLL(None).prctl(15, {name.encode()!r}, 0, 0, 0); "
            f"{then}")  # 15: PR_SET_NAME
    child = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 10
    while f"({name})" not in _stat(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return child


def _stat(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read()
    except FileNotFoundError:
        return ""


def _state_letter(pid: int) -> str:
    return _stat(pid).rpartition(")")[2].split()[0]


def test_a_process_whose_name_has_spaces_is_alive():
    child = _renamed("a Z d", "time.sleep(30)")
    try:
        assert "(a Z d)" in _stat(child.pid) and _state_letter(child.pid) != "Z"
        # Splitting the stat line on spaces reads "Z" from the name: it looked dead.
        assert _stat(child.pid).split()[2] == "Z"
        assert osutil.pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_a_zombie_whose_name_has_spaces_is_dead():
    child = _renamed("a R d", "time.sleep(0.3)")
    deadline = time.monotonic() + 10
    while _state_letter(child.pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert _state_letter(child.pid) == "Z" and _stat(child.pid).split()[2] == "R"
        assert not osutil.pid_alive(child.pid)
    finally:
        child.wait()


def test_a_zombie_is_dead():
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while _state_letter(child.pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)  # exited, not yet reaped: a zombie
    try:
        assert not osutil.pid_alive(child.pid)
    finally:
        child.wait()


def test_a_dead_pid_and_no_pid_are_dead():
    child = subprocess.Popen(["true"])
    child.wait()
    assert not osutil.pid_alive(child.pid)
    assert not osutil.pid_alive(None) and not osutil.pid_alive(0)
    assert osutil.pid_alive(os.getpid())
    assert osutil.cmdline(child.pid) == [] and osutil.process_tree(child.pid) == []


def test_process_tree_lists_grandchildren_and_signal_tree_stops_them():
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.monotonic() + 5
        while len(osutil.process_tree(parent.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        tree = osutil.process_tree(parent.pid)
        assert tree[0] == parent.pid and len(tree) == 3
        osutil.signal_tree(parent.pid)
        parent.wait(timeout=5)
        deadline = time.monotonic() + 5
        while any(osutil.pid_alive(p) for p in tree[1:]) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not any(osutil.pid_alive(p) for p in tree)
    finally:
        parent.kill()
        parent.wait()


def test_a_failed_command_carries_command_exit_code_stdout_and_stderr():
    with pytest.raises(CommandError) as caught:
        osutil.run(["sh", "-c", "echo out; echo err >&2; exit 3"], where="here")
    error = caught.value
    assert (error.command, error.returncode, error.stdout, error.stderr) == (
        "sh -c echo out; echo err >&2; exit 3", 3, "out\n", "err\n")
    assert str(error) == "here: command 'sh -c echo out; echo err >&2; exit 3' exited 3: err"
    with pytest.raises(CommandError, match="exited None"):
        osutil.run(["/nonexistent/tool"])
    assert osutil.run(["echo", "hi"]) == "hi\n"


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    osutil.atomic_write_json(path, {"a": 1})
    osutil.atomic_write(path, "second\n")
    assert path.read_text() == "second\n"
    assert not osutil.create_exclusive(path, "third\n") and path.read_text() == "second\n"
    assert osutil.create_exclusive(tmp_path / "new", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "state.json"]


def test_the_state_root_is_the_environment_s(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTERBENCH_STATE_DIR", str(tmp_path))
    assert osutil.state_root() == tmp_path
    from clusterbench.cluster.lifecycle import state_dir
    from clusterbench.lab import default_directory

    assert state_dir() == tmp_path and default_directory() == tmp_path / "lab"
