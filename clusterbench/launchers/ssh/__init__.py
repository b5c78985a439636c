"""SSH hosts: dask workers started over asyncssh, with per-host options.

distributed's ``SSHCluster`` gives every host the same ``worker_options``
(distributed#4714), waits for an INFO line on stderr (#8393), hides why a
worker failed (#3929) and leaves remote processes behind because OpenSSH does
not forward signals (#3420).  :class:`SSHWorker` is a distributed
``ProcessInterface`` that fixes exactly those points and nothing more:

* per-host python, setup commands, environment, threads and memory;
* readiness is decided by the scheduler (which pushes each registration to the
  cluster; a deadline bounds the wait); ``start`` only launches the process and records
  its PID, so launches on many hosts overlap;
* a failed start keeps the command, exit status and output tail;
* ``close`` sends SIGTERM to the recorded PID, then SIGKILL, and the process
  runs under a PTY so that a dropped connection still delivers SIGHUP;
* handshakes run in parallel across hosts, bounded per host (the host's
  ``max_startups``, for sshd's ``MaxStartups``) and over all hosts
  (``CLUSTERBENCH_SSH_HANDSHAKES``, default 32; :mod:`.limits`); the workers of one
  host share its SSH connections.

:class:`SSHScheduler` runs the scheduler on a named ssh host of the inventory
(``scheduler: {host: NAME}``) the same way: PTY, PID file, stop by PID; it is
ready when it has written its scheduler file and a client connects to it.

This module is the launcher (:data:`LAUNCHER`): everything clusterbench does with an
SSH host goes through it.  The code is split by job: :mod:`.host` is the inventory
model, :mod:`.commands` builds the remote command lines (pure), :mod:`.connections`
pools the asyncssh connections, :mod:`.processes` holds the ``ProcessInterface``\\ s
and the leftover kill, :mod:`.checks` the checks of ``up``, ``doctor`` and ``down``,
:mod:`.sshconfig` reads the OpenSSH client config (aliases, ``HostName``, ``ProxyJump``)
as asyncssh does.
Those names are importable from here too (the heavy modules on first use).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from clusterbench.launchers.base import HostReport, Launcher, Probe, SchedulerOptions, SpecContext
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
from clusterbench.launchers.ssh.host import SSHHost

# Names of the submodules that import distributed/asyncssh, loaded on first access
# (PEP 562) so that reading an inventory does not import them.
_LAZY = {
    "CONNECTIONS": "connections", "SESSIONS_PER_CONNECTION": "connections",
    "_Connection": "connections", "_Connections": "connections",
    "open_connection": "connections", "run_remote": "connections",
    "POLL_SECONDS": "processes", "REMOTE_STOP_SECONDS": "sweep",
    "SCHEDULER_TIMEOUT": "processes", "SSHScheduler": "processes",
    "SSHWorker": "processes", "_RemoteProcess": "processes", "copy_credentials": "processes",
    "kill_leftovers": "sweep", "leftover_processes": "sweep", "sweep_host": "sweep",
}

__all__ = [
    "LAUNCHER", "REMOTE_ROOT", "SSHHost", "SSHLauncher", "_self_excluding",
    "_self_excluding_glob", "_tagged_command", "connect_options", "scheduler_command",
    "session_dir", "tls_args", "tls_dir", "worker_command", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class SSHLauncher(Launcher):
    """Builds :class:`SSHWorker` specs, one per worker of an SSH host; can run the scheduler."""

    name = "ssh"
    host_model = SSHHost
    hosts_scheduler = True

    def worker_specs(self, host: SSHHost, context: SpecContext) -> dict[str, dict[str, Any]]:
        """One spec per worker, each carrying the whole (frozen) host description,
        resolved through the SSH config."""
        from clusterbench.launchers.ssh.processes import SSHWorker

        host = host.effective()
        return {
            slot.spec_name: {
                "cls": SSHWorker,
                "options": {"host": host, "session": context.session,
                            "credentials": context.credentials},
            }
            for slot in self.slots(host, context)
        }

    def describe(self, host: SSHHost, context: SpecContext, scheduler: str
                 ) -> list[tuple[str, str]]:
        """Where the connection settings came from, then the command each worker runs."""
        tls = context.credentials is not None
        host = host.effective()
        return [(f"settings of {host.name} (ssh)", "\n".join(host.sources())), *[
            (f"{host.name}: ssh {host.address} ({slot.name})",
             worker_command(host, slot.name, scheduler, context.session, tls=tls))
            for slot in self.slots(host, context)]]

    def sources(self, host: SSHHost) -> list[str]:
        """``FIELD VALUE (ORIGIN)`` of the connection settings (``inventory check``)."""
        return host.sources()

    def validate(self, host: SSHHost, where: str) -> None:
        """SSH config, identity and known_hosts files exist and are readable; the config
        parses; ``CLUSTERBENCH_SSH_HANDSHAKES``, if set, is a positive integer."""
        from clusterbench.errors import InventoryError
        from clusterbench.launchers.ssh.checks import check_files
        from clusterbench.launchers.ssh.limits import handshake_limit
        from clusterbench.launchers.ssh.sshconfig import jump_chain

        handshake_limit()  # before the daemon starts: a bad value is one line from `up`
        check_files(host, where)
        try:
            jump_chain(host.effective())  # each hop's user, address and port; no loop
        except InventoryError as exc:  # `where` names the host already
            raise InventoryError(f"{where}: {str(exc).removeprefix(f'host {host.name!r}: ')}"
                                 ) from None

    async def check(self, host: SSHHost, probe: Probe) -> HostReport:
        """Log in, run the probe with the host's python, compare versions, reach the scheduler."""
        from clusterbench.errors import InventoryError
        from clusterbench.launchers.ssh.checks import examine

        try:
            host = host.effective()
        except InventoryError as exc:
            return HostReport(host.name, False, problems=(str(exc),))
        return await examine(host, probe)

    async def cleanup(self, hosts: Sequence[SSHHost], session: str) -> dict[str, list[str]]:
        """Find and kill processes tagged with *session* on every host, concurrently."""
        from clusterbench.launchers.ssh.checks import sweep

        return await sweep([host.effective() for host in hosts], session)

    def prepare_cleanup(self, hosts: Sequence[SSHHost], session: str) -> None:
        """Open a plain shell per host now, for ``down``'s sweep (see :mod:`.control`)."""
        from clusterbench.launchers.ssh.control import open_shells

        open_shells([host.effective() for host in hosts], session)

    def scheduler_address(self, host: SSHHost) -> str:
        """The host's own address (its ``HostName`` when the SSH config gives one)."""
        return str(host.effective().address)

    def scheduler_spec(self, host: SSHHost, options: SchedulerOptions) -> dict[str, Any]:
        """An :class:`SSHScheduler` on *host*."""
        from clusterbench.launchers.ssh.processes import SSHScheduler

        host = host.effective()
        return {"cls": SSHScheduler, "options": {
            "host": host, "session": options.session, "address": options.address,
            "port": options.port, "dashboard": options.dashboard,
            "dashboard_host": options.dashboard_host, "python": options.python,
            "credentials": options.credentials}}

    def describe_scheduler(self, host: SSHHost, options: SchedulerOptions, tls: bool
                           ) -> tuple[str, str]:
        """The scheduler's command line on *host*."""
        host = host.effective()
        return f"scheduler: ssh {host.address} ({host.name})", scheduler_command(
            host, options.address, options.port, options.dashboard, options.python,
            options.session, options.dashboard_host, tls=tls)

    def tunnel(self, host: SSHHost) -> str:
        """``[-F CONFIG] [-J JUMP] [-p PORT] [user@]address`` (the resolved address, port,
        user and jump host)."""
        host = host.effective()
        jump = f"-F {host.ssh_config} " if host.ssh_config else ""
        jump += f"-J {host.proxy_jump} " if host.proxy_jump else ""
        port = f"-p {host.port} " if host.port != 22 else ""
        return f"{jump}{port}{host.user + '@' if host.user else ''}{host.address}"


LAUNCHER = SSHLauncher()
