"""SSH hosts: dask workers started over asyncssh, with per-host options.

distributed's ``SSHCluster`` gives every host the same ``worker_options``
(distributed#4714), waits for an INFO line on stderr (#8393), hides why a
worker failed (#3929) and leaves remote processes behind because OpenSSH does
not forward signals (#3420).  :class:`SSHWorker` is a distributed
``ProcessInterface`` that fixes exactly those points and nothing more:

* per-host python, setup commands, environment, threads and memory;
* readiness is decided by the scheduler (the cluster polls it with a
  deadline); ``start`` only launches the process and records its PID;
* a failed start keeps the command, exit status and output tail;
* ``close`` sends SIGTERM to the recorded PID, then SIGKILL, and the process
  runs under a PTY so that a dropped connection still delivers SIGHUP;
* handshakes per host are bounded (the host's ``max_startups``, for sshd's
  ``MaxStartups``) and the workers of one host share its SSH connections.

:class:`SSHScheduler` runs the scheduler on a named ssh host of the inventory
(``scheduler: {host: NAME}``) the same way: PTY, PID file, stop by PID; it is
ready when it has written its scheduler file and a client connects to it.

The code is split by job: :mod:`.commands` builds the remote command lines (pure),
:mod:`.connections` pools the asyncssh connections, :mod:`.processes` holds the
``ProcessInterface``\\ s and ``down``'s leftover sweep.  This module is the launcher
(:data:`LAUNCHER`) and the public import point for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusterbench.inventory.model import SSHHost
from clusterbench.launchers.base import SpecContext, WorkerSlot

# The implementation is split by job; this module is the public import point and
# re-exports every name used elsewhere (the cluster, the tests).
from clusterbench.launchers.ssh.commands import (
    REMOTE_ROOT,
    _self_excluding,
    _self_excluding_glob,
    _tagged_command,
    connect_options,
    scheduler_command,
    session_dir,
    tls_args,
    tls_dir,
    worker_command,
)
from clusterbench.launchers.ssh.connections import (
    CONNECTIONS,
    SESSIONS_PER_CONNECTION,
    _Connection,
    _Connections,
    open_connection,
    run_remote,
)
from clusterbench.launchers.ssh.processes import (
    POLL_SECONDS,
    REMOTE_STOP_SECONDS,
    SCHEDULER_TIMEOUT,
    STOP_GRACE,
    SSHScheduler,
    SSHWorker,
    _RemoteProcess,
    copy_credentials,
    kill_leftovers,
    leftover_processes,
)

__all__ = [
    "CONNECTIONS",
    "LAUNCHER",
    "POLL_SECONDS",
    "REMOTE_ROOT",
    "REMOTE_STOP_SECONDS",
    "SCHEDULER_TIMEOUT",
    "SESSIONS_PER_CONNECTION",
    "STOP_GRACE",
    "SSHLauncher",
    "SSHScheduler",
    "SSHWorker",
    "_Connection",
    "_Connections",
    "_RemoteProcess",
    "_self_excluding",
    "_self_excluding_glob",
    "_tagged_command",
    "connect_options",
    "copy_credentials",
    "kill_leftovers",
    "leftover_processes",
    "open_connection",
    "run_remote",
    "scheduler_command",
    "session_dir",
    "tls_args",
    "tls_dir",
    "worker_command",
]


@dataclass(frozen=True)
class SSHLauncher:
    """Builds :class:`SSHWorker` specs, one per worker of an SSH host."""

    def worker_specs(self, host: SSHHost, context: SpecContext) -> dict[str, dict[str, Any]]:
        """One spec per worker, each carrying the whole (frozen) host description."""
        return {
            slot.spec_name: {
                "cls": SSHWorker,
                "options": {"host": host, "session": context.session,
                            "credentials": context.credentials},
            }
            for slot in self.slots(host, context)
        }

    def slots(self, host: SSHHost, context: SpecContext) -> list[WorkerSlot]:
        """Workers are named ``<host>-<i>``."""
        return [
            WorkerSlot(name=f"{host.name}-{i}", host=host.name, threads=host.threads,
                       spec_name=f"{host.name}-{i}")
            for i in range(host.worker_count)
        ]


LAUNCHER = SSHLauncher()
