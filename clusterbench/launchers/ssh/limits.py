"""How many SSH handshakes run at once: a global bound and one per host (pure asyncio).

A handshake costs this machine a file descriptor and a key exchange's CPU, and costs the
host an unauthenticated sshd child: sshd drops those beyond its ``MaxStartups``
(default 10:30:100; asyncssh#55, distributed#5499).  :class:`HandshakeLimiter` gives a
handshake a slot only when both bounds allow it:

* per host: the host's ``max_startups`` (inventory field, default 4);
* over all hosts: :data:`DEFAULT_HANDSHAKES`, or ``CLUSTERBENCH_SSH_HANDSHAKES`` in the
  environment of ``up``/``doctor``/``down`` (:func:`handshake_limit`).

The host's slot is taken first, then the global one: a handshake waiting for its busy
host then holds no global slot that another host could use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Hashable, Mapping

from clusterbench.errors import InventoryError

#: Handshakes in flight from this process over all hosts, unless the environment says
#: otherwise: 32 keeps a 64-host ``up`` within a default ``ulimit -n`` of 1024 with room to
#: spare and, on 2 cores, the key exchanges ahead of the hosts' interpreter starts.
DEFAULT_HANDSHAKES = 32
HANDSHAKES_ENV = "CLUSTERBENCH_SSH_HANDSHAKES"


def handshake_limit(environ: Mapping[str, str] = os.environ) -> int:
    """The global bound: ``CLUSTERBENCH_SSH_HANDSHAKES`` if set, else the default.

    Raises
    ------
    InventoryError
        The variable is not a positive integer.
    """
    text = environ.get(HANDSHAKES_ENV, "").strip()
    if not text:
        return DEFAULT_HANDSHAKES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InventoryError(f"{HANDSHAKES_ENV} must be a positive integer, got {text!r}")
    return value


class HandshakeLimiter:
    """Slots for SSH handshakes: at most *total* at once, at most a host's own limit to
    one host; counts what was in flight (for tests and ``--debug``).

    Parameters
    ----------
    total
        Handshakes at once over all hosts.

    Notes
    -----
    One limiter serves one event loop (asyncio semaphores bind to the loop they first
    wait in); :class:`~clusterbench.launchers.ssh.connections._Connections` keeps one per
    loop.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self._all = asyncio.Semaphore(total)
        self._hosts: dict[Hashable, asyncio.Semaphore] = {}
        self.in_flight: dict[Hashable, int] = {}
        self.peak: dict[Hashable, int] = {}  # host -> most handshakes at once to it
        self.peak_total = 0  # most handshakes at once over all hosts
        self._total_now = 0

    @contextlib.asynccontextmanager
    async def slot(self, host: Hashable, host_limit: int) -> AsyncIterator[None]:
        """Hold one handshake slot to *host* (whose own limit is *host_limit*)."""
        # The first caller fixes a host's limit: a host is one inventory entry, one value.
        per_host = self._hosts.setdefault(host, asyncio.Semaphore(host_limit))
        async with per_host, self._all:
            self._count(host, +1)
            try:
                yield
            finally:
                self._count(host, -1)

    def _count(self, host: Hashable, step: int) -> None:
        self.in_flight[host] = self.in_flight.get(host, 0) + step
        self._total_now += step
        self.peak[host] = max(self.peak.get(host, 0), self.in_flight[host])
        self.peak_total = max(self.peak_total, self._total_now)
