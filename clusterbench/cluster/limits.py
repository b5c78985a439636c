"""The limits users of large clusters hit first, checked by ``doctor`` before ``up``.

Published reports (issue 16): about 10 file descriptors per worker against a default
``ulimit -n`` of 1024; ``local_directory`` on a network filesystem made 420 jobqueue
workers take 7-8 minutes to start (dask-jobqueue#193); 1,000 workers timing out where
500 worked (dask-jobqueue#316).  sshd's ``MaxStartups``/``MaxSessions`` are checked per
SSH host by its launcher (:mod:`clusterbench.launchers.ssh.checks`).

Each check is a pure function of what it reads (limits, mount table, dask config), so
that the unit tests can feed it a low limit or a fake nfs mount; :func:`cluster_warnings`
reads the real ones.  A warning is advice: it does not fail ``doctor``.
"""

from __future__ import annotations

import os
import resource
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterbench.inventory.model import Inventory

#: File descriptors the scheduler needs per worker (its comm, the worker's batched
#: stream, connections made for data transfer, ...; distributed's docs say ~10).
FDS_PER_WORKER = 10
#: The client's own connections, logs, the SSH connections' sockets and Python's files.
CLIENT_FDS = 100
#: Filesystem types that are shared over the network (``stat -f -c %T`` / /proc/mounts).
NETWORK_FS = frozenset({"nfs", "nfs4", "lustre", "gpfs", "beegfs", "cifs", "smb3", "smbfs",
                        "fuse.sshfs", "ceph", "fuse.glusterfs", "panfs"})
#: Above this many workers the default heartbeat and connect settings are too tight.
MANY_WORKERS = 100
#: What dask-jobqueue#316 needed for 1,000 workers (500 worked with the defaults).
SUGGESTED_CONNECT_S = 60.0
SUGGESTED_CONFIG = """distributed:
  comm:
    timeouts:
      connect: 60s
  scheduler:
    worker-ttl: 10 minutes"""
LOCAL_DISK_ADVICE = ("put local_directory on a disk local to the compute node, e.g. "
                     "local_directory: $TMPDIR or /tmp (dask-jobqueue's advice: spilling and "
                     "start-up over a network filesystem took 420 workers 7-8 minutes, "
                     "dask-jobqueue#193)")


@dataclass(frozen=True)
class LimitWarning:
    """One piece of advice: what it is about (``scheduler machine``, a host) and the text."""

    subject: str
    text: str


def fds_needed(workers: int, ssh_connections: int = 0) -> int:
    """File descriptors the scheduler's process needs for *workers* workers."""
    return FDS_PER_WORKER * workers + CLIENT_FDS + ssh_connections


def fd_warning(workers: int, ssh_connections: int = 0,
               limits: tuple[int, int] | None = None) -> str | None:
    """Advice when ``ulimit -n`` (RLIMIT_NOFILE; *limits* = (soft, hard), default this
    process's) is below what *workers* workers need."""
    soft, hard = limits or resource.getrlimit(resource.RLIMIT_NOFILE)
    need = fds_needed(workers, ssh_connections)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return None
    raise_to = need if hard == resource.RLIM_INFINITY or hard >= need else hard
    fix = (f"run 'ulimit -n {raise_to}' before 'clusterbench up'" if raise_to >= need else
           f"the hard limit is {hard}: ask for a higher nofile limit "
           "(/etc/security/limits.conf) or use fewer workers")
    return (f"ulimit -n is {soft}; {workers} workers need about {need} file descriptors "
            f"({FDS_PER_WORKER} per worker + {CLIENT_FDS + ssh_connections} for the client "
            f"and its connections); {fix}")


def parse_mounts(text: str) -> list[tuple[str, str]]:
    """``(mount point, filesystem type)`` of each line of /proc/mounts (octal escapes such
    as ``\\040`` for a space decoded)."""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            point = parts[1].encode().decode("unicode_escape") if "\\" in parts[1] else parts[1]
            mounts.append((point, parts[2]))
    return mounts


def fs_type(path: str, mounts_text: str | None = None) -> str | None:
    """Filesystem type of *path*: the longest mount point that contains it (None: unknown)."""
    if mounts_text is None:
        try:
            mounts_text = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = os.path.abspath(os.path.expanduser(os.path.expandvars(path)))
    best: tuple[int, str] | None = None
    for point, kind in parse_mounts(mounts_text):
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), kind)
    return best[1] if best else None


def network_fs_warning(path: str, what: str, mounts_text: str | None = None) -> str | None:
    """Advice when *path* (*what*: ``local_directory of host X``) is on a network
    filesystem (the client machine's mount table; compute nodes mount the same
    shared filesystems on most sites)."""
    kind = fs_type(path, mounts_text)
    if kind is None or kind.split(".")[0] not in {k.split(".")[0] for k in NETWORK_FS}:
        return None
    return f"{what} {path} is on {kind}, a network filesystem; {LOCAL_DISK_ADVICE}"


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    from dask.utils import parse_timedelta

    return float(parse_timedelta(value, default="seconds"))


def heartbeat_warning(workers: int, config: dict[str, Any] | None = None) -> str | None:
    """Advice for more than :data:`MANY_WORKERS` workers when the connect timeout is under
    :data:`SUGGESTED_CONNECT_S` or ``worker-ttl`` is under 10 heartbeats (*config*:
    ``{"connect": ..., "worker-ttl": ...}``, default dask's configuration)."""
    if workers <= MANY_WORKERS:
        return None
    if config is None:
        import dask.config
        import distributed  # noqa: F401 - registers the distributed.* defaults

        config = {"connect": dask.config.get("distributed.comm.timeouts.connect"),
                  "worker-ttl": dask.config.get("distributed.scheduler.worker-ttl")}
    connect = _seconds(config.get("connect"))
    ttl = _seconds(config.get("worker-ttl"))
    heartbeat = 0.5 + workers / 200  # distributed's heartbeat interval at this size
    tight = []
    if connect is not None and connect < SUGGESTED_CONNECT_S:
        tight.append(f"distributed.comm.timeouts.connect is {connect:g} s")
    if ttl is not None and ttl < 10 * heartbeat:
        tight.append(f"distributed.scheduler.worker-ttl is {ttl:g} s "
                     f"(heartbeats come every ~{heartbeat:g} s at this size)")
    if not tight:
        return None
    return (f"{workers} workers: {'; '.join(tight)}; 1,000 workers timed out where 500 "
            f"worked (dask-jobqueue#316); suggested ~/.config/dask/distributed.yaml:\n"
            f"{SUGGESTED_CONFIG}")


def cluster_warnings(inventory: Inventory, cwd: str | None = None,
                     mounts_text: str | None = None) -> list[LimitWarning]:
    """Every cluster-level warning for *inventory*, read from this machine."""
    warnings = []
    workers = inventory.total_workers
    ssh = sum(-(-int(getattr(h, "workers", 1)) // 8) for h in inventory.hosts
              if h.launcher == "ssh")
    from clusterbench.cluster.spec import scheduler_host

    if scheduler_host(inventory) is None:  # the scheduler runs in up's daemon, here
        text = fd_warning(workers, ssh)
        if text:
            warnings.append(LimitWarning("scheduler machine", text))
    queue_hosts = [h for h in inventory.hosts if hasattr(h, "jobs")]
    for host in queue_hosts:
        directory = getattr(host, "local_directory", None)
        if directory:
            text = network_fs_warning(directory, f"local_directory of host {host.name!r}",
                                      mounts_text)
            if text:
                warnings.append(LimitWarning(host.name, text))
    if queue_hosts and not any(getattr(h, "local_directory", None) for h in queue_hosts):
        where = cwd or os.getcwd()
        text = network_fs_warning(where, "queue jobs start in the working directory",
                                  mounts_text)
        if text:
            warnings.append(LimitWarning("queue jobs", text))
    import dask.config

    temporary = dask.config.get("temporary-directory", None) or tempfile.gettempdir()
    text = network_fs_warning(temporary, "dask's temporary-directory (workers' default "
                              "local_directory)", mounts_text)
    if text:
        warnings.append(LimitWarning("dask config", text))
    text = heartbeat_warning(workers)
    if text:
        warnings.append(LimitWarning("cluster", text))
    return warnings
