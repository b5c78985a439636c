"""cgroup v1 limits of the fake hosts: a CPU quota and an optional memory limit each.

Layout: ``/sys/fs/cgroup/{cpu,memory}/clusterbench-<lab>/<host>``.  Only the fake
host's sshd is put in; every SSH session and dask worker it forks inherits the
cgroup, which is what makes a "pi" slow.
"""

from __future__ import annotations

import errno
import time
from pathlib import Path

from clusterbench.lab.system import CGROUP_ROOT, terminate

PERIOD_US = 100_000
MIN_QUOTA_US = 1_000  # the kernel refuses smaller quotas


def lab_parent(controller: str, lab: str) -> Path:
    """The lab's own directory under *controller*, parent of its hosts' cgroups."""
    return CGROUP_ROOT / controller / f"clusterbench-{lab}"


def controller(path: Path) -> str:
    """The controller (``cpu``, ``memory``) a cgroup path belongs to."""
    return path.relative_to(CGROUP_ROOT).parts[0]


def host_settings(cpu: float, memory: int | None) -> dict[str, dict[str, str]]:
    """The files to write per controller for a host with *cpu* cores and *memory* bytes."""
    quota = max(MIN_QUOTA_US, round(cpu * PERIOD_US))
    settings = {"cpu": {"cpu.cfs_period_us": str(PERIOD_US), "cpu.cfs_quota_us": str(quota)}}
    if memory is not None:
        # memsw (memory+swap) must follow limit_in_bytes, or a host could swap past its limit.
        settings["memory"] = {
            "memory.limit_in_bytes": str(memory),
            "memory.memsw.limit_in_bytes": str(memory),
        }
    return settings


def create(path: Path, files: dict[str, str]) -> None:
    """Make cgroup *path* (and its parent) and write *files* in order; absent files are skipped.

    ``memory.memsw.*`` is absent when the kernel runs without swap accounting.
    """
    path.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        target = path / name
        if target.exists():
            target.write_text(value)


def attach(paths: list[Path], pid: int) -> None:
    """Move *pid* into every cgroup of *paths* (its future children inherit them)."""
    for path in paths:
        (path / "cgroup.procs").write_text(str(pid))


def members(path: Path) -> list[int]:
    """PIDs in cgroup *path* ([] when it does not exist)."""
    try:
        return [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def remove(path: Path, timeout: float = 3.0) -> None:
    """Kill whatever is still in cgroup *path*, then remove it; a missing path is fine.

    Stragglers are killed rather than moved to the root cgroup: anything left in a
    fake host's cgroup was started by the lab and must not outlive it.
    """
    terminate(members(path), grace=0.5)
    deadline = time.monotonic() + timeout
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            # EBUSY while the kernel still accounts exiting tasks to the cgroup.
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def read(path: Path, name: str) -> int | None:
    """An integer control file of cgroup *path*, or None when the cgroup is gone."""
    try:
        return int((path / name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
