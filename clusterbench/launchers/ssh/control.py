"""One plain shell per host, opened once the cluster is up, that runs ``down``'s sweep.

Every command over SSH starts the user's login shell, which reads its rc files first:
``pyenv init`` here cost 0.13 s of CPU, 1.7-5 s on a 0.06-CPU lab host, and conda's
init is slower.  ``up``'s daemon opens ``exec sh -s`` on every host right after the
cluster is ready (:func:`open_shells`; off both ``up``'s and ``down``'s path), and
``down``'s sweep writes its script to that shell's stdin (:func:`run_in_shell`):
no rc files, no handshake at ``down``.  A host without one (not opened yet, its
connection lost) is swept with a fresh command as before.  The shell holds no session
tag; it exits on ``exit`` after the sweep, or on end of input when the daemon dies.

A sweep that has not finished within its bound is not yet "could not check": the host's
sshd is asked for a refusal first (:func:`answers`); a host that answers is alive but
slow and gets :data:`SLOW_HOST_SECONDS` more, a cut link does not answer.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Sequence
from typing import Any

import asyncssh

from clusterbench.errors import LaunchError
from clusterbench.launchers.ssh.connections import CONNECTIONS, SESSIONS_PER_CONNECTION
from clusterbench.launchers.ssh.host import SSHHost

#: How long the liveness probe of a host that did not finish its sweep in time may take.
PROBE_SECONDS = 1.0
#: Seconds more a sweep gets on a host that answers the probe: on a 0.03-CPU lab host right
#: after ``up``, the sweep shell still in its login rc files held 38-44 of 64 hosts past the
#: 8 s bound, and ``down`` said "could not check" of hosts that were fine.
SLOW_HOST_SECONDS = 30.0

_SHELLS: dict[tuple, asyncio.Future] = {}


def _key(host: SSHHost, session: str) -> tuple:
    return (host.address, host.port, host.user, session, id(asyncio.get_running_loop()))


def open_shells(hosts: Sequence[SSHHost], session: str) -> None:
    """Start opening a shell on each of *hosts* (in the background; failures are ignored:
    the sweep then runs a command of its own).  ``CLUSTERBENCH_SWEEP_SHELLS=0`` turns
    this off (one fresh command per host at ``down``, as before)."""
    if os.environ.get("CLUSTERBENCH_SWEEP_SHELLS", "1") == "0":
        return
    for host in hosts:
        key = _key(host, session)
        if key not in _SHELLS:
            _SHELLS[key] = asyncio.ensure_future(_open(host))


async def _open(host: SSHHost) -> tuple[Any, Any]:
    # One session more than the workers' share: the connection the workers use, no new one.
    connection = await CONNECTIONS.acquire(host, SESSIONS_PER_CONNECTION + 1)
    try:
        process = await connection.create_process("exec sh -s")
    except BaseException:
        CONNECTIONS.release(host, connection)
        raise
    return connection, process


async def run_in_shell(host: SSHHost, session: str, script: str, timeout: float
                       ) -> str | None:
    """*script*'s output through *host*'s shell (waiting for it while it opens), or None
    when the host has none or it could not be opened.

    Raises
    ------
    LaunchError
        No answer within *timeout* seconds (a cut link).
    """
    opening = _SHELLS.pop(_key(host, session), None)
    if opening is None:
        return None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        connection, process = await asyncio.wait_for(asyncio.shield(opening), timeout)
    except asyncio.TimeoutError:
        opening.add_done_callback(_close_later(host))
        raise LaunchError(f"host {host.name!r}: no answer within {timeout:g} s") from None
    except Exception:  # noqa: BLE001 - the opening failed: the caller runs a command
        return None
    marker = f"__clusterbench_{secrets.token_hex(6)}__"
    reading: asyncio.Future = asyncio.ensure_future(_read_until(process, marker))
    try:
        process.stdin.write(f"{script}\necho {marker}\nexit\n")
        done, _ = await asyncio.wait({reading}, timeout=max(0.1, deadline - loop.time()))
        patience = _patience()
        if not done and patience and await answers(connection, PROBE_SECONDS):
            # sshd answers: the host is alive, its CPU quota busy (the worker exiting, the
            # shell's rc files); a cut link does not answer and keeps the short bound.
            done, _ = await asyncio.wait({reading}, timeout=patience)
            if not done:
                raise LaunchError(f"host {host.name!r}: answers, but its check did not "
                                  f"finish within {timeout + patience:g} s")
        if not done:
            raise LaunchError(f"host {host.name!r}: no answer within {timeout:g} s")
        return reading.result()
    except LaunchError:
        raise
    except Exception:  # noqa: BLE001 - the connection was lost: the caller runs a command
        return None
    finally:
        reading.cancel()
        process.close()
        CONNECTIONS.release(host, connection)


def _patience() -> float:
    """Seconds more for a host that is alive but slow (``CLUSTERBENCH_SWEEP_PATIENCE``,
    default :data:`SLOW_HOST_SECONDS`; 0 turns the probe off: the benchmark's baseline)."""
    try:
        return max(0.0, float(os.environ.get("CLUSTERBENCH_SWEEP_PATIENCE",
                                             SLOW_HOST_SECONDS)))
    except ValueError:
        return SLOW_HOST_SECONDS


async def answers(connection: Any, seconds: float) -> bool:
    """Whether the host's sshd replies to an SSH request within *seconds*: a forwarding
    request to port 0 of the host's own loopback, which sshd refuses at once (connection
    refused, or forwarding not allowed): the refusal is the answer.  Nothing runs on the
    host and nothing leaves it; a cut link gives no answer.  (asyncssh has no public
    "ping": its keepalive runs on a timer.)"""
    try:
        _, writer = await asyncio.wait_for(connection.open_connection("127.0.0.1", 0),
                                           seconds)
    except asyncio.TimeoutError:
        return False
    except (asyncssh.Error, OSError):
        return True
    writer.close()
    return True


async def _read_until(process: Any, marker: str) -> str:
    lines: list[str] = []
    async for line in process.stdout:
        if line.strip() == marker:
            return "".join(lines)
        lines.append(line)
    raise OSError("the shell exited before the end of the sweep")


def _close_later(host: SSHHost) -> Any:
    def close(opening: asyncio.Future) -> None:
        if not opening.cancelled() and opening.exception() is None:
            connection, process = opening.result()
            process.close()
            CONNECTIONS.release(host, connection)
    return close
