"""Shared asyncssh connections per host, and one-shot remote commands over them.

asyncssh has no pool; the workers of one host share its connections, a bounded
number of sessions each.  Handshakes run concurrently across hosts, bounded per host
by the host's ``max_startups`` (sshd's ``MaxStartups``) and over all hosts by
``CLUSTERBENCH_SSH_HANDSHAKES`` (default 32; :mod:`.limits`).  A host behind a
``ProxyJump`` is reached through a pooled connection to the jump host (bounded by the
jump host's own ``max_startups``), held while the tunnelled connection lives.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from clusterbench.errors import LaunchError
from clusterbench.launchers.ssh.commands import connect_options
from clusterbench.launchers.ssh.host import SSHHost
from clusterbench.launchers.ssh.limits import HandshakeLimiter, handshake_limit

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
    drops unauthenticated connections beyond its own ``MaxStartups`` (default 10:30:100);
    over all hosts up to the global bound of :func:`.limits.handshake_limit`.
    """

    def __init__(self) -> None:
        self._open: dict[tuple, list[_Connection]] = {}
        # One per event loop, by the loop itself: an id() can be reused by a later loop,
        # and asyncio semaphores stay bound to the loop they first waited in.
        self._limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.peak_handshakes: dict[str, int] = {}  # host name -> most handshakes at once
        self.jumps: dict[str, str] = {}  # host name -> the jump host it was reached through

    async def acquire(self, host: SSHHost, sessions: int = SESSIONS_PER_CONNECTION) -> Any:
        """A connection to *host* with fewer than *sessions* users (opened if needed)."""
        host = host.effective()
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

    def limiter(self) -> HandshakeLimiter:
        """This event loop's handshake limits (global bound read from the environment
        when the loop first connects)."""
        loop = asyncio.get_running_loop()
        if loop not in self._limiters:
            self._limiters[loop] = HandshakeLimiter(handshake_limit())
        return self._limiters[loop]

    async def _handshake(self, host: SSHHost) -> Any:
        """Open a connection to *host* within the global and per-host handshake bounds.

        A jump host's connection is acquired before *host*'s slots are taken: the jump's
        own handshake needs slots too, and holding the global one while waiting for it
        could use up every slot with handshakes that wait for each other.
        """
        from clusterbench.launchers.ssh.sshconfig import jump_chain

        chain = jump_chain(host)  # the whole way, so that a ProxyJump loop is an error
        jump = chain[0] if chain else None
        tunnel = None if jump is None else await self.acquire(jump)
        limiter = self.limiter()
        try:
            async with limiter.slot(_key(host), host.max_startups):
                peak = max(self.peak_handshakes.get(host.name, 0),
                           limiter.in_flight[_key(host)])
                self.peak_handshakes[host.name] = peak
                connection = await open_connection(host, tunnel, via=jump)
        except BaseException:
            if jump is not None:
                self.release(jump, tunnel)
            raise
        if jump is not None:
            self.jumps[host.name] = jump.name
            asyncio.ensure_future(self._release_when_closed(connection, jump, tunnel))
        return connection

    async def _release_when_closed(self, connection: Any, jump: SSHHost, tunnel: Any) -> None:
        try:
            await connection.wait_closed()
        finally:
            self.release(jump, tunnel)

    def release(self, host: SSHHost, connection: Any) -> None:
        """Give *connection* back; it closes when its last user is gone."""
        host = host.effective()
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
        host = host.effective()
        return len(self._open.get(_key(host), []))


def _close_unused(opening: asyncio.Future) -> None:
    """Close a connection whose handshake finished after everyone waiting for it left."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


def _key(host: SSHHost) -> tuple:
    return (host.address, host.port, host.user, id(asyncio.get_running_loop()))


CONNECTIONS = _Connections()


async def open_connection(host: SSHHost, tunnel: Any = None, via: SSHHost | None = None
                          ) -> Any:
    """Connect to *host* (resolved through its SSH config), directly or through the open
    connection *tunnel* to the jump host *via*; every asyncssh/OS failure becomes a
    one-line LaunchError."""
    import asyncssh

    host = host.effective()
    try:
        return await asyncssh.connect(host.ssh_target(), tunnel=tunnel,
                                      **connect_options(host))
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
        through = f" through {via.name} ({via.address}:{via.port})" if via else ""
        raise LaunchError(
            f"host {host.name!r}: cannot connect to {host.address}:{host.port}{through} "
            f"({reason})"
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

