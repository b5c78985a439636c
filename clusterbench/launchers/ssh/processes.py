"""Long-running remote processes (workers, the scheduler) and ``down``'s leftover sweep.

:class:`SSHWorker` and :class:`SSHScheduler` are distributed ``ProcessInterface``\\ s:
started under a PTY over a shared connection, their PID recorded in the session
directory, stopped by that PID (OpenSSH does not forward signals, distributed#3420).
"""

from __future__ import annotations

import asyncio
import shlex
from collections import deque
from typing import Any

from distributed.deploy.spec import ProcessInterface

from clusterbench.errors import CommandError, LaunchError
from clusterbench.inventory.model import SSHHost
from clusterbench.launchers.ssh.commands import (
    _self_excluding,
    _self_excluding_glob,
    scheduler_command,
    session_dir,
    tls_dir,
    worker_command,
)
from clusterbench.launchers.ssh.connections import CONNECTIONS, run_remote

STOP_GRACE = 5.0
#: Longest wait for one remote command of a stop (a kill, a leftover check): a host whose link
#: is cut must not hold `down` for the minutes TCP takes to give up.
REMOTE_STOP_SECONDS = 5.0
SCHEDULER_TIMEOUT = 60.0
POLL_SECONDS = 0.05


class _RemoteProcess(ProcessInterface):
    """One long-running process on an SSH host, started under a PTY, stopped by PID.

    Subclasses give the command and a *role* (worker name or ``scheduler``): the
    command records its PID in ``<session dir>/<role>.pid`` so that ``close`` can
    signal exactly that process (OpenSSH does not forward signals, distributed#3420).
    """

    def __init__(self, host: SSHHost, session: str, role: str, command: str,
                 credentials: Any = None) -> None:
        super().__init__()
        self.host = host
        self.session = session
        self.role = role
        self.command = command
        self.credentials = credentials
        self.where = host.name  # how failures name this process
        self.failure: LaunchError | None = None
        self._connection: Any = None
        self._process: Any = None
        self._output: deque[str] = deque(maxlen=20)

    async def _launch(self) -> None:
        """Open (or share) the host's connection and start the command; a failure is
        recorded in :attr:`failure`, not raised."""
        try:
            self._connection = await CONNECTIONS.acquire(self.host)
            if self.credentials is not None:
                await copy_credentials(self._connection, self.host, self.session,
                                       self.credentials)
            self._process = await self._connection.create_process(
                self.command, term_type="dumb", term_size=(200, 50)
            )
            asyncio.ensure_future(self._collect_output())
        except LaunchError as exc:
            self.failure = exc

    async def _collect_output(self) -> None:
        async for line in self._process.stdout:
            self._output.append(line.rstrip())

    def exit_failure(self) -> LaunchError | None:
        """The start failure, or the early exit of the remote process, as one line."""
        if self.failure is None and self._process is not None:
            status = self._process.exit_status
            if status is not None:
                self.failure = CommandError(
                    self.command, status, stderr="\n".join(self._output), where=self.where
                )
        return self.failure

    async def close(self) -> None:
        """SIGTERM the recorded PID, SIGKILL after a grace period, drop the channel."""
        if self._process is not None and self._process.exit_status is None:
            # A host that does not answer the TERM within REMOTE_STOP_SECONDS (a cut link)
            # is not waited for again: `down` reports it as not verified instead.
            if await self._signal("TERM"):
                try:
                    await asyncio.wait_for(self._process.wait_closed(), STOP_GRACE)
                except asyncio.TimeoutError:
                    await self._signal("KILL")
            self._process.close()
        if self._connection is not None:
            CONNECTIONS.release(self.host, self._connection)
            self._connection = None
        await super().close()

    async def _signal(self, signal: str) -> bool:
        """Send *signal* to the recorded PID; False when the host did not answer in time."""
        pid_file = shlex.quote(f"{session_dir(self.session)}/{self.role}.pid")
        # The connection may be gone; the PTY hang-up then stops the process.
        try:
            await asyncio.wait_for(
                self._connection.run(f"kill -{signal} $(cat {pid_file}) 2>/dev/null",
                                     check=False), REMOTE_STOP_SECONDS)
        except asyncio.TimeoutError:
            return False
        except Exception:  # noqa: BLE001 - a closed connection: the PTY hang-up stops it
            return True
        return True


class SSHWorker(_RemoteProcess):
    """One dask worker process on an SSH host (a distributed ``ProcessInterface``).

    Parameters
    ----------
    scheduler
        Scheduler address (passed by SpecCluster).
    name
        Worker name, registered with the scheduler.
    host
        The inventory host (a frozen :class:`SSHHost`).
    session
        Token of this ``up``; names the remote scratch directory.
    """

    def __init__(self, scheduler: str, name: str, host: SSHHost, session: str,
                 credentials: Any = None) -> None:
        command = worker_command(host, name, scheduler, session, tls=credentials is not None)
        super().__init__(host, session, name, command, credentials)
        self.scheduler = scheduler
        self.name = name

    async def start(self) -> None:
        """Launch the worker; a failure is recorded in :attr:`failure`, not raised,
        so that the cluster can carry on with the other hosts (``min_workers``).
        Readiness is the scheduler's business (the cluster polls it)."""
        await self._launch()
        await super().start()


class SSHScheduler(_RemoteProcess):
    """The dask scheduler on an SSH host of the inventory (``scheduler: {host: NAME}``).

    Ready when the scheduler has written its address and a client connects to it,
    within *timeout* seconds; an early exit fails at once with the command, exit
    status and output tail.

    Parameters
    ----------
    host
        The inventory host the scheduler runs on.
    session
        Token of this ``up``; names the remote scratch directory.
    address
        Address the scheduler binds to and workers connect to.
    port, dashboard
        Scheduler and dashboard ports (0: any free port; dashboard None: off).
    python
        Interpreter on *host* (default: the host's ``python``).
    timeout
        Seconds for the scheduler to become reachable.
    """

    def __init__(self, host: SSHHost, session: str, address: str, port: int = 0,
                 dashboard: int | None = 0, python: str | None = None,
                 timeout: float = SCHEDULER_TIMEOUT, dashboard_host: str = "127.0.0.1",
                 credentials: Any = None) -> None:
        command = scheduler_command(host, address, port, dashboard, python, session,
                                    dashboard_host, tls=credentials is not None)
        super().__init__(host, session, "scheduler", command, credentials)
        self.where = f"scheduler on {host.name}"
        self.timeout = timeout

    async def start(self) -> None:
        """Launch the scheduler and wait until a client can connect to it.

        Raises
        ------
        LaunchError
            When it cannot be started, exits early or is not reachable in time.
        """
        await self._launch()
        if self.failure is not None:
            raise self.failure
        deadline = asyncio.get_running_loop().time() + self.timeout
        self.address = await self._wait_address(deadline)
        await self._wait_connectable(deadline)
        await super().start()

    async def _wait_address(self, deadline: float) -> str:
        """Poll the scheduler file over the shared connection (not stderr, distributed#8393)."""
        path = shlex.quote(f"{session_dir(self.session)}/scheduler.json")
        loop = asyncio.get_running_loop()
        while True:
            failure = self.exit_failure()
            if failure is not None:
                raise failure
            result = await self._connection.run(f"cat {path} 2>/dev/null", check=False)
            address = _address_from(result.stdout or "")
            if address:
                return address
            if loop.time() > deadline:
                raise self._not_ready("did not write its address")
            await asyncio.sleep(POLL_SECONDS)

    async def _wait_connectable(self, deadline: float) -> None:
        from distributed.comm import connect

        remaining = max(1.0, deadline - asyncio.get_running_loop().time())
        tls = {} if self.credentials is None else \
            self.credentials.security().get_connection_args("client")
        try:
            comm = await connect(self.address, timeout=remaining, **tls)
        except OSError as exc:
            raise self._not_ready(f"is not reachable at {self.address} ({exc})") from None
        await comm.close()

    def _not_ready(self, what: str) -> LaunchError:
        tail = " | ".join(line for line in self._output if line.strip())[-300:]
        return LaunchError(
            f"scheduler on host {self.host.name!r} {what} within {self.timeout:g} s"
            + (f"; output: {tail}" if tail else "")
        )


def _address_from(text: str) -> str | None:
    """The ``address`` of a scheduler file's JSON text (None while it is not written yet)."""
    import json

    try:
        return json.loads(text).get("address") or None
    except (ValueError, AttributeError):
        return None


async def copy_credentials(connection: Any, host: SSHHost, session: str,
                           credentials: Any) -> None:
    """Copy the cluster's TLS files to *host*'s session directory, owner-only (0600).

    The contents travel on stdin of the existing SSH connection, never on a command
    line (which ``ps`` shows) nor in an error message.  Each file is written under a
    temporary name and renamed, so workers of one host copying at once never read a
    half-written file.
    """
    where = tls_dir(session)
    for name, path in credentials.files().items():
        target = shlex.quote(f"{where}/{name}")
        command = (f"umask 077 && mkdir -p {shlex.quote(where)} && "
                   f"cat > {target}.$$ && mv -f {target}.$$ {target}")
        result = await connection.run(command, input=path.read_text(), check=False)
        if result.exit_status != 0:
            raise LaunchError(f"host {host.name!r}: could not copy the cluster's TLS "
                              f"{name} to {where} (exit {result.exit_status}: "
                              f"{(result.stderr or '').strip()[-200:]})")


async def leftover_processes(host: SSHHost, session: str) -> list[str]:
    """PIDs and command lines of our processes still alive on *host* (for ``down``)."""
    result = await run_remote(host, f"pgrep -af -- {_self_excluding(session)} || true",
                              timeout=REMOTE_STOP_SECONDS)
    return [line for line in (result.stdout or "").splitlines() if line.strip()]


async def kill_leftovers(host: SSHHost, session: str) -> None:
    """Last resort of ``down``: kill anything tagged with *session* and remove its scratch dir."""
    # The shell running this command has the whole command in its own command line, so
    # neither half may spell the session directory literally, or pkill kills that shell
    # before rm runs (it did: scratch directories piled up on every host).  The glob
    # ``[c]lusterbench-...`` expands to the directory but does not match the pattern.
    await run_remote(host, f"pkill -KILL -f -- {_self_excluding(session)}; "
                           f"rm -rf {_self_excluding_glob(session)}; true",
                     timeout=REMOTE_STOP_SECONDS)
