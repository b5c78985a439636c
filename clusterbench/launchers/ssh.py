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
"""

from __future__ import annotations

import asyncio
import shlex
from collections import deque
from dataclasses import dataclass
from typing import Any

from distributed.deploy.spec import ProcessInterface

from clusterbench.errors import CommandError, LaunchError
from clusterbench.inventory.model import SSHHost
from clusterbench.launchers.base import SpecContext, WorkerSlot, blas_env

REMOTE_ROOT = "/tmp/clusterbench"  # per-session scratch on every host; its path tags our processes
STOP_GRACE = 5.0
#: Longest wait for one remote command of a stop (a kill, a leftover check): a host whose link
#: is cut must not hold `down` for the minutes TCP takes to give up.
REMOTE_STOP_SECONDS = 5.0
SCHEDULER_TIMEOUT = 60.0
POLL_SECONDS = 0.05


def session_dir(session: str) -> str:
    """Remote scratch directory of one ``up``; every worker's command line contains it."""
    return f"{REMOTE_ROOT}-{session}"


def connect_options(host: SSHHost) -> dict[str, Any]:
    """asyncssh ``connect`` keyword arguments for *host* (pure).

    ~/.ssh/config and ssh-agent are honoured by asyncssh's defaults; host keys
    are always checked (``known_hosts`` default: ~/.ssh/known_hosts).
    """
    options: dict[str, Any] = {"port": host.port, "connect_timeout": host.connect_timeout}
    if host.user:
        options["username"] = host.user
    if host.identity:
        options["client_keys"] = list(host.identity)
    if host.known_hosts:
        options["known_hosts"] = host.known_hosts
    return options


def tls_dir(session: str) -> str:
    """Where a host keeps the cluster's TLS files (removed with the session directory)."""
    return f"{session_dir(session)}/tls"


def tls_args(session: str, tls: bool) -> list[str]:
    """dask CLI options that make a scheduler or worker use the copied TLS files (pure)."""
    if not tls:
        return []
    from clusterbench.cluster.security import CA_FILE, CERT_FILE, KEY_FILE

    where = tls_dir(session)
    return ["--tls-ca-file", f"{where}/{CA_FILE}", "--tls-cert", f"{where}/{CERT_FILE}",
            "--tls-key", f"{where}/{KEY_FILE}"]


def worker_command(host: SSHHost, name: str, scheduler: str, session: str,
                   tls: bool = False) -> str:
    """The remote shell command that runs one dask worker (pure).

    It records its PID first (``exec`` keeps it), runs the host's setup
    commands, then execs the worker with the host's environment.  The worker's
    HTTP server (health, metrics; it runs even with ``--no-dashboard``) binds to the
    host's own address: dask's default is every interface.
    """
    worker = [
        host.python or "python3", "-m", "distributed.cli.dask_worker", scheduler,
        "--name", name,
        "--nthreads", str(host.threads),
        "--memory-limit", str(host.memory if host.memory is not None else 0),
        "--no-nanny", "--no-dashboard", "--dashboard-address", f"{host.address}:0",
        "--host", host.address,
        "--local-directory", f"{session_dir(session)}/{name}",
        *tls_args(session, tls),
        *host.worker_extra_args,
    ]
    return _tagged_command(host, session, name, blas_env(1) | host.env, worker)


def _tagged_command(host: SSHHost, session: str, role: str, env: dict[str, str],
                    argv: list[str]) -> str:
    """``mkdir`` the session dir, record the shell's PID as ``<role>.pid`` (``exec`` keeps
    it), run the host's setup commands, then exec *argv* with *env* (pure)."""
    scratch = session_dir(session)
    steps = [
        f"mkdir -p {shlex.quote(scratch)}",
        f"echo $$ > {shlex.quote(f'{scratch}/{role}.pid')}",
        *host.setup,
        " ".join(["exec env", *(shlex.quote(f"{k}={v}") for k, v in env.items()),
                  shlex.join(argv)]),
    ]
    return " && ".join(steps)


#: Long-lived sessions (worker processes) per SSH connection.  OpenSSH allows 10 sessions
#: per connection by default (MaxSessions); 8 leaves room for the short commands (kill,
#: leftover checks) that share the connection.  A host with more workers gets more
#: connections, one handshake each.
SESSIONS_PER_CONNECTION = 8


class _Connection:
    """One (possibly still opening) connection and how many sessions it carries."""

    def __init__(self, opening: asyncio.Future) -> None:
        self.opening = opening
        self.users = 0

    def connection(self) -> Any:
        """The open connection, or None while opening or after a failed handshake."""
        done = self.opening.done() and not self.opening.cancelled()
        return self.opening.result() if done and self.opening.exception() is None else None

    def usable(self) -> bool:
        if not self.opening.done():
            return True
        connection = self.connection()
        return connection is not None and not connection.is_closed()


class _Connections:
    """Shared asyncssh connections per host, each carrying a bounded number of sessions.

    asyncssh has no pool; sharing connections means N workers on a Pi cost one
    handshake, not N, while a 16-worker desktop still stays under sshd's MaxSessions.
    Handshakes to one host run concurrently up to the host's ``max_startups``: sshd
    drops unauthenticated connections beyond its own ``MaxStartups`` (default 10:30:100).
    """

    def __init__(self) -> None:
        self._open: dict[tuple, list[_Connection]] = {}
        self._handshakes: dict[tuple, asyncio.Semaphore] = {}
        self._in_flight: dict[tuple, int] = {}
        self.peak_handshakes: dict[str, int] = {}  # host name -> most handshakes at once

    async def acquire(self, host: SSHHost, sessions: int = SESSIONS_PER_CONNECTION) -> Any:
        """A connection to *host* with fewer than *sessions* users (opened if needed)."""
        pool = self._open.setdefault(_key(host), [])
        pool[:] = [entry for entry in pool if entry.usable()]
        # No await between choosing an entry and counting its user: concurrent
        # acquirers fill a connection that is still opening instead of opening more.
        entry = next((e for e in pool if e.users < sessions), None)
        if entry is None:
            entry = _Connection(asyncio.ensure_future(self._handshake(host)))
            pool.append(entry)
        entry.users += 1
        try:
            return await asyncio.shield(entry.opening)
        except BaseException:  # failed handshake, or this acquirer was cancelled
            entry.users -= 1
            if entry in pool and entry.users <= 0:
                pool.remove(entry)
                entry.opening.add_done_callback(_close_unused)
            raise

    async def _handshake(self, host: SSHHost) -> Any:
        key = _key(host)
        async with self._handshakes.setdefault(key, asyncio.Semaphore(host.max_startups)):
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            peak = max(self.peak_handshakes.get(host.name, 0), self._in_flight[key])
            self.peak_handshakes[host.name] = peak
            try:
                return await open_connection(host)
            finally:
                self._in_flight[key] -= 1

    def release(self, host: SSHHost, connection: Any) -> None:
        """Give *connection* back; it closes when its last user is gone."""
        pool = self._open.get(_key(host), [])
        for entry in pool:
            if entry.connection() is connection:
                entry.users -= 1
                if entry.users <= 0:
                    pool.remove(entry)
                    connection.close()
                return

    def count(self, host: SSHHost) -> int:
        """Open connections to *host* (from this event loop)."""
        return len(self._open.get(_key(host), []))


def _close_unused(opening: asyncio.Future) -> None:
    """Close a connection whose handshake finished after everyone waiting for it left."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


def _key(host: SSHHost) -> tuple:
    return (host.address, host.port, host.user, id(asyncio.get_running_loop()))


CONNECTIONS = _Connections()


async def open_connection(host: SSHHost) -> Any:
    """Connect to *host*, translating every asyncssh/OS failure into one-line LaunchError."""
    import asyncssh

    try:
        return await asyncssh.connect(host.address, **connect_options(host))
    except asyncssh.HostKeyNotVerifiable:
        known = host.known_hosts or "~/.ssh/known_hosts"
        raise LaunchError(
            f"host {host.name!r} ({host.address}:{host.port}): host key is not in {known}; "
            f"accept it with 'ssh-keyscan -p {host.port} {host.address} >> {known}' "
            f"or set 'known_hosts:' for this host in the inventory"
        ) from None
    except asyncssh.PermissionDenied:
        who = host.user or "the default user"
        keys = ", ".join(host.identity) or "the default keys/agent"
        raise LaunchError(
            f"host {host.name!r} ({host.address}:{host.port}): authentication failed "
            f"as {who} with {keys}"
        ) from None
    except (OSError, asyncio.TimeoutError, asyncssh.Error) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, asyncio.TimeoutError):
            reason = f"timed out after {host.connect_timeout:g} s"
        raise LaunchError(
            f"host {host.name!r}: cannot connect to {host.address}:{host.port} ({reason})"
        ) from None


async def run_remote(host: SSHHost, command: str, timeout: float = 30.0) -> Any:
    """Run *command* on *host* over the shared connection; return asyncssh's result.

    *timeout* bounds the whole of it, connecting included (a cut link must not hang).
    """
    async def run() -> Any:
        connection = await CONNECTIONS.acquire(host)
        try:
            return await connection.run(command, check=False)
        finally:
            CONNECTIONS.release(host, connection)

    try:
        return await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        raise LaunchError(f"host {host.name!r}: no answer within {timeout:g} s") from None


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


def scheduler_command(host: SSHHost, address: str, port: int, dashboard: int | None,
                      python: str | None, session: str, dashboard_host: str = "127.0.0.1",
                      tls: bool = False) -> str:
    """The remote shell command that runs the dask scheduler on *host* (pure).

    The scheduler writes its address to ``<session dir>/scheduler.json``; that path
    also tags the process for ``down``'s leftover check.  Its HTTP server (the
    dashboard, or health/metrics with the dashboard off) binds to *dashboard_host*
    (loopback of that host unless the inventory says otherwise).
    """
    board = ["--dashboard-address", f"{dashboard_host}:{dashboard or 0}"]
    if dashboard is None:
        board.append("--no-dashboard")
    transport = ["--protocol", "tls", *tls_args(session, True)] if tls else []
    scheduler = [
        python or host.python or "python3", "-m", "distributed.cli.dask_scheduler",
        "--host", address, "--port", str(port), *board, *transport,
        "--scheduler-file", f"{session_dir(session)}/scheduler.json",
    ]
    return _tagged_command(host, session, "scheduler", dict(host.env), scheduler)


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


def _self_excluding_glob(session: str) -> str:
    """A shell glob for the session directory whose text the pgrep pattern does not match."""
    head, _, name = session_dir(session).rpartition("/")
    return f"{shlex.quote(head)}/[{name[0]}]{shlex.quote(name[1:])}"


def _self_excluding(session: str) -> str:
    """A pgrep pattern for our processes that does not match the shell running pgrep:
    the regex ``[/]tmp`` matches ``/tmp`` but not its own text ``[/]tmp``."""
    return shlex.quote("[" + session_dir(session)[0] + "]" + session_dir(session)[1:])
