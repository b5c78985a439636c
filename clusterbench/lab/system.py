"""The lab's only door to the operating system: commands, daemons, processes, preflight.

Every short command goes through :func:`run` (raises
:class:`~clusterbench.errors.CommandError`); long-lived daemons are started with
:func:`spawn`, which keeps the ``Popen`` so that a daemon stopped by this
process is reaped instead of lingering as a zombie that still "exists".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from clusterbench import osutil
from clusterbench.errors import LabError

SSHD = "/usr/sbin/sshd"
TOOLS = ("ip", SSHD, "nsenter", "unshare")
INSTALL = "apt-get install openssh-server iproute2 util-linux"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Popen objects of the daemons this process started, by PID (see module docstring).
_CHILDREN: dict[int, subprocess.Popen] = {}


def run(cmd: list[str], *, where: str = "lab", timeout: float = 30.0) -> str:
    """Run a short command and return its stdout (:func:`clusterbench.osutil.run`).

    Raises
    ------
    CommandError
        When the command is missing, times out or exits non-zero.
    """
    return osutil.run(cmd, where=where, timeout=timeout)


def spawn(cmd: list[str], output: Path) -> int:
    """Start a daemon in its own session with stdout/stderr appended to *output*; return its PID."""
    with open(output, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def alive(pid: int) -> bool:
    """Whether *pid* is a running (not zombie) process; a daemon we started is reaped."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]
        return False
    return osutil.pid_alive(pid)


def cmdline(pid: int) -> list[str]:
    """The argv of *pid* ([] when it is gone)."""
    return osutil.cmdline(pid)


def terminate(pids: list[int], grace: float = 3.0) -> list[int]:
    """SIGTERM *pids*, wait up to *grace* seconds, SIGKILL the rest; return those killed hard."""
    _signal(pids, signal.SIGTERM)
    left = wait_gone(pids, grace)
    _signal(left, signal.SIGKILL)
    wait_gone(left, 2.0)
    return left


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until every PID has exited or *timeout* passed; return those still alive."""
    deadline = time.monotonic() + timeout
    left = [pid for pid in pids if alive(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [pid for pid in left if alive(pid)]
    return left


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def require_root() -> None:
    """Refuse (LabError) unless this is Linux and we are root."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise LabError(
            "clusterbench lab needs root on Linux (network namespaces, cgroups); "
            "run as root or use a local inventory"
        )


def require_lab_support(memory: bool) -> None:
    """Refuse (LabError) unless this is Linux, we are root, the tools and cgroup v1 exist.

    Parameters
    ----------
    memory
        Also require the cgroup v1 memory controller (some host has a memory limit).
    """
    require_root()
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise LabError(f"clusterbench lab needs {', '.join(missing)}; install with `{INSTALL}`")
    controllers = ["cpu", "memory"] if memory else ["cpu"]
    for name in controllers:
        if not (CGROUP_ROOT / name / "cgroup.procs").exists():
            raise LabError(
                f"clusterbench lab needs the cgroup v1 '{name}' controller at "
                f"{CGROUP_ROOT / name} (cgroup v2-only machines are not supported)"
            )
