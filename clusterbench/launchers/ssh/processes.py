"""Long-running remote processes (workers, the scheduler).

:class:`SSHWorker` and :class:`SSHScheduler` are distributed ``ProcessInterface``\\ s:
started under a PTY over a shared connection, their PID recorded in the session
directory.  OpenSSH does not forward signals (distributed#3420), so they are stopped by
hanging up their PTY: SIGHUP to the process group, from the kernel, with no command run
on the host.  ``down``'s sweep (:mod:`.sweep`) then checks that they are gone.
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
from collections import deque
from typing import Any

import asyncssh
from distributed.deploy.spec import ProcessInterface

from clusterbench.errors import CommandError, LaunchError
from clusterbench.launchers.ssh.commands import (
    credentials_script,
    scheduler_command,
    session_dir,
    terminal_tls_input,
    tls_dir,
    tty_safe,
    worker_command,
)
from clusterbench.launchers.ssh.connections import CONNECTIONS
from clusterbench.launchers.ssh.host import SSHHost

SCHEDULER_TIMEOUT = 60.0
POLL_SECONDS = 0.05


class _RemoteProcess(ProcessInterface):
    """One long-running process on an SSH host, started under a PTY, stopped by hanging
    the PTY up.

    Subclasses give the command and a *role* (worker name or ``scheduler``): the
    command records its PID in ``<session dir>/<role>.pid``.
    """

    def __init__(self, host: SSHHost, session: str, role: str, command: str,
                 credentials: Any = None, stdin: str | None = None) -> None:
        super().__init__()
        self.host = host
        self.session = session
        self.role = role
        self.command = command
        self.credentials = credentials
        self.stdin = stdin  # the TLS files, when the command reads them from its terminal
        self.shown = command  # the command as errors show it (see SSHWorker)
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
            if self.credentials is not None and self.stdin is None:
                await copy_credentials(self._connection, self.host, self.session,
                                       self.credentials)
            # Echo off: what the command reads from its terminal never comes back out.
            self._process = await self._connection.create_process(
                self.command, term_type="dumb", term_size=(200, 50),
                term_modes={asyncssh.PTY_ECHO: 0},
            )
            if self.stdin is not None:
                self._process.stdin.write(self.stdin)
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
                    self.shown, status, stderr="\n".join(self._output), where=self.where
                )
        return self.failure

    async def close(self) -> None:
        """Hang up the process's PTY and drop the channel; no command runs on the host.

        Closing the channel makes sshd close the PTY, and the kernel sends SIGHUP to the
        process group on it: the worker and anything it started end at once (a dask
        worker handles only SIGINT/SIGTERM, by a graceful close that took ~3 s on a
        0.06-CPU host, and every ``kill`` over SSH costs the host a shell and its rc
        files: 2-5 s there).  ``down``'s sweep (:func:`sweep_host`) then confirms, per
        host, that the session's processes are gone.
        """
        if self._process is not None:
            self._process.close()
        if self._connection is not None:
            CONNECTIONS.release(self.host, self._connection)
            self._connection = None
        await super().close()


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
        tls_input, stdin = _terminal_tls(credentials)
        tls = credentials is not None
        command = worker_command(host, name, scheduler, session, tls=tls, tls_input=tls_input)
        super().__init__(host, session, name, command, credentials, stdin)
        # Errors show the command without the steps that read the TLS files (as
        # `up --dry-run` prints it): those say nothing about why a worker failed.
        self.shown = worker_command(host, name, scheduler, session, tls=tls)
        self.scheduler = scheduler
        self.name = name

    async def start(self) -> None:
        """Launch the worker; a failure is recorded in :attr:`failure`, not raised,
        so that the cluster can carry on with the other hosts (``min_workers``).
        Readiness is the scheduler's business (it pushes registrations to the cluster)."""
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


def _terminal_tls(credentials: Any) -> tuple[tuple[list[str], str] | None, str | None]:
    """``(tls_input for worker_command, what to write to the terminal)`` for a worker that
    reads the TLS files from its own terminal; ``(None, None)`` without TLS, or when a
    file is not plain text lines (then a command of its own copies them)."""
    if credentials is None:
        return None, None
    texts = {name: path.read_text() for name, path in credentials.files().items()}
    if not all(tty_safe(text) for text in texts.values()):
        return None, None
    end = f"CLUSTERBENCH_EOF_{secrets.token_hex(8)}"
    return (list(texts), end), terminal_tls_input(texts, end)


def _address_from(text: str) -> str | None:
    """The ``address`` of a scheduler file's JSON text (None while it is not written yet)."""
    import json

    try:
        return json.loads(text).get("address") or None
    except (ValueError, AttributeError):
        return None


#: ``{(host key, session): copy}``: the TLS files go to a host once, whatever its
#: worker count (its workers wait for the same copy).
_COPIES: dict[tuple, asyncio.Future] = {}


async def copy_credentials(connection: Any, host: SSHHost, session: str,
                           credentials: Any) -> None:
    """Copy the cluster's TLS files to *host*'s session directory, owner-only (0600),
    once per host and session, in one remote command (:func:`credentials_script`).

    The contents travel on stdin of the existing SSH connection, never on a command
    line (which ``ps`` shows) nor in an error message.
    """
    key = (host.address, host.port, host.user, session, id(asyncio.get_running_loop()))
    done = key in _COPIES and _COPIES[key].done()
    if key not in _COPIES or done and (_COPIES[key].cancelled() or _COPIES[key].exception()):
        # A failed copy is tried again by the next worker (a host back after a blip).
        _COPIES[key] = asyncio.ensure_future(_copy(connection, host, session, credentials))
    await asyncio.shield(_COPIES[key])


async def _copy(connection: Any, host: SSHHost, session: str, credentials: Any) -> None:
    where = tls_dir(session)
    texts = {name: path.read_text() for name, path in credentials.files().items()}
    script = credentials_script(where, texts, secrets.token_hex(8))
    result = await connection.run("exec sh -s", input=script, check=False)
    if result.exit_status != 0:
        raise LaunchError(f"host {host.name!r}: could not copy the cluster's TLS files "
                          f"to {where} (exit {result.exit_status}: "
                          f"{(result.stderr or '').strip()[-200:]})")
