"""Where the ``distributed`` scheduler's workers come from at a sweep point.

* :class:`ManagedCluster`: an :class:`InventoryCluster` started for the run with
  every worker of the inventory; at point k tasks are restricted to the first k.
  The cluster stays whole for the sweep, so points can be interleaved without
  starting or stopping a worker between them (and the per-worker calibration sees
  every worker).
* :class:`ExistingCluster`: a cluster someone else started (``--scheduler-address``
  or ``clusterbench up``); at point k tasks are restricted to k of its workers,
  because resizing a cluster we do not own is not ours to do.

Restrictions go by worker *name*: before every repeat the sweep resolves the names
to the addresses registered at that moment (:mod:`clusterbench.runner.workerset`),
so a worker restarted by its Nanny on a new port is followed, not dropped.

"First k" follows the scenario's ``order``: ``inventory`` (as listed; by name
for an existing cluster) or ``fastest-first``: before the first point every
worker runs a short fixed CPU kernel (all at once, so workers sharing a host
also share its cores, as they will under load) and the workers are added
fastest first.  The per-worker kernel seconds are kept in ``worker_speed``
and stored with the run's calibration.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clusterbench.errors import LaunchError, UsageError


@dataclass(frozen=True)
class PointWorkers:
    """The workers of one distributed point, as recorded with each measurement."""

    addresses: tuple[str, ...]
    names: tuple[str, ...]
    hosts: tuple[str, ...]
    threads: int
    setup_seconds: float = 0.0


class ManagedCluster:
    """Start the inventory's cluster lazily and grow it point by point."""

    def __init__(self, inventory: Any, timeout: float = 300.0, order: str = "inventory",
                 insecure: bool = False) -> None:
        from clusterbench.cluster.security import security_label

        self.inventory = inventory
        self.timeout = timeout
        self.order = order
        #: ``tls``, ``loopback`` (plain TCP, local only) or ``insecure`` (opted out).
        self.transport = security_label(inventory, insecure)
        self.credentials: Any = None
        #: Why the scheduler is gone, once the sweep found it so (then close is short).
        self.lost: str | None = None
        self.worker_speed: dict[str, float] = {}
        self._cluster: Any = None
        self._ready: list[Any] | None = None
        self.session = secrets.token_hex(4)
        #: What the leftover sweep of :meth:`close` found, per SSH host (as `down` reports).
        self.leftovers: dict[str, list[str]] = {}
        self.client: Any = None

    @property
    def max_workers(self) -> int:
        return self.inventory.total_workers

    def workers_for(self, count: int) -> PointWorkers:
        """The first *count* workers (in the scenario's order); every worker runs."""
        from distributed import Client

        from clusterbench.cluster.lifecycle import state_dir
        from clusterbench.cluster.security import cluster_credentials

        start = time.perf_counter()
        if self._cluster is None:
            if self.transport == "tls":
                self.credentials = cluster_credentials(self.inventory, self.session,
                                                       state_dir())
            self._cluster = _start_cluster(self.inventory, self.session, self.credentials)
            self.client = Client(self._cluster)  # the cluster's Security (TLS) is used
        if self._ready is None:
            self._ready = self._cluster.sync(self._cluster.use_workers, self.max_workers,
                                             self.timeout)
            if self.order == "fastest-first":
                self._order_fastest_first()
        ready = self._ready[:count]
        return PointWorkers(
            addresses=tuple(w.address for w in ready),
            names=tuple(w.slot.name for w in ready),
            hosts=tuple(w.slot.host for w in ready),
            threads=max(w.slot.threads for w in ready),
            setup_seconds=time.perf_counter() - start,
        )

    def _order_fastest_first(self) -> None:
        """Time the kernel on every worker and order them fastest first."""
        from clusterbench.runner.calibrate import worker_speed

        ready = self._ready
        assert ready is not None, "workers are ordered after use_workers found them"
        self.worker_speed = worker_speed(self.client, [w.address for w in ready],
                                         [w.slot.name for w in ready])
        self._ready = sorted(ready, key=lambda w: self.worker_speed.get(w.slot.name,
                                                                        float("inf")))

    def release(self) -> None:
        """Every worker running again: a sweep pauses the workers outside its current
        point, and a cluster given to ``run_scenario`` outlives the sweep."""
        if self.client is not None:
            _release(self.client)

    def close(self) -> None:
        """Stop every worker and the scheduler."""
        if self.client is not None:
            _release(self.client)
            self.client.close()
        if self._cluster is not None:
            self._close_cluster()
            self.leftovers = _sweep_hosts(self.inventory, self.session)
        if self.credentials is not None:
            self.credentials.remove()


    def _close_cluster(self) -> None:
        """A graceful close asks the scheduler to close its workers; with the scheduler
        gone (:attr:`lost`, set by the sweep) that waits out distributed's 30 s connect
        timeout first.  Then the close gets a few seconds, and the leftover sweep that
        follows kills the session's processes on every host by their tag."""
        if self.lost is None:
            self._cluster.close()
            return
        import contextlib

        with contextlib.suppress(Exception):
            self._cluster.close(timeout=LOST_CLOSE_SECONDS)


#: How long closing a cluster whose scheduler is gone may take before the leftover sweep.
LOST_CLOSE_SECONDS = 5.0


def _sweep_hosts(inventory: Any, session: str) -> dict[str, list[str]]:
    """The same leftover sweep as `down`'s (kill stragglers, remove the session's scratch
    directory on every SSH host): a managed sweep left both behind on every host."""
    import asyncio

    from clusterbench.cluster.daemon import leftovers

    return asyncio.run(leftovers(inventory, session))


def _start_cluster(inventory: Any, session: str, credentials: Any) -> Any:
    from clusterbench.cluster.cluster import InventoryCluster
    from clusterbench.cluster.spec import build_cluster_spec

    spec = build_cluster_spec(inventory, session=session, credentials=credentials)
    security = credentials.security() if credentials is not None else None
    return InventoryCluster(spec, name=inventory.cluster, asynchronous=False,
                            security=security)


@dataclass
class ExistingCluster:
    """Use k workers of a running cluster, chosen in name order."""

    address: str
    timeout: float = 60.0
    order: str = "inventory"
    #: distributed ``Security`` (a cluster `up` started over TLS); None: dask's config.
    security: Any = None
    #: ``{worker name: inventory host}`` when `up` started the cluster (its state file
    #: says); other workers are named by the host address the scheduler knows.
    host_names: Mapping[str, str] = field(default_factory=dict)
    #: How environment.json names the transport: not ours to choose or know.
    transport: str = field(default="attached", init=False)
    client: Any = field(default=None, init=False)
    worker_speed: dict[str, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        from distributed import Client

        host, port = scheduler_endpoint(self.address)
        _refuse_fast(self.address, host, port)
        try:
            self.client = Client(self.address, timeout=self.timeout, security=self.security)
        except (OSError, ValueError, TypeError) as exc:
            raise LaunchError(f"cannot reach the scheduler at {self.address}: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                              ) from None

    @property
    def max_workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def workers_for(self, count: int) -> PointWorkers:
        """The first *count* workers by name or speed (fail if the cluster has fewer)."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        ordered = sorted(workers.items(), key=lambda item: str(item[1].get("name")))
        if self.order == "fastest-first":
            if not self.worker_speed:
                from clusterbench.runner.calibrate import worker_speed

                self.worker_speed = worker_speed(self.client, [a for a, _ in ordered],
                                                 [str(w.get("name")) for _, w in ordered])
            ordered.sort(key=lambda item: self.worker_speed.get(str(item[1].get("name")),
                                                                float("inf")))
        chosen = ordered[:count]
        if len(chosen) < count:
            raise LaunchError(
                f"the cluster at {self.address} has {len(workers)} workers; {count} were asked for"
            )
        return PointWorkers(
            addresses=tuple(address for address, _ in chosen),
            names=tuple(str(info.get("name")) for _, info in chosen),
            hosts=tuple(self.host_names.get(str(info.get("name")), str(info.get("host")))
                        for _, info in chosen),
            threads=max(int(info.get("nthreads", 1)) for _, info in chosen),
        )

    def close(self) -> None:
        """Resume the workers a point paused and disconnect; the cluster keeps running."""
        _release(self.client)
        self.client.close()


#: Schemes a dask client can reach a scheduler by (``inproc`` is in-process only).
SCHEMES = ("tcp", "tls")


def scheduler_endpoint(address: str) -> tuple[str, int]:
    """``(host, port)`` of a ``tcp://host:port`` / ``tls://host:port`` scheduler address
    (a bare ``host:port`` is tcp, as for dask itself).

    Raises
    ------
    UsageError
        One line saying what is wrong with *address* (pure: nothing is contacted).
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    hint = "expected tcp://HOST:PORT or tls://HOST:PORT"
    try:
        scheme, location = parse_address(address, strict=False)
        host, port = parse_host_port(location)
    except (ValueError, TypeError):
        raise UsageError(f"--scheduler-address {address!r}: {hint}") from None
    if scheme not in SCHEMES or not host or not port:
        raise UsageError(f"--scheduler-address {address!r}: {hint}"
                         + (f" (not {scheme}://)" if scheme not in SCHEMES else ""))
    return host, int(port)


def _refuse_fast(address: str, host: str, port: int, seconds: float = 5.0) -> None:
    """Fail in seconds when nothing listens there: the client itself retries a refused
    connection until its whole timeout (60 s) has passed."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=seconds):
            return
    except ConnectionRefusedError:
        raise LaunchError(f"cannot reach the scheduler at {address}: connection refused "
                          f"(nothing listens on {host}:{port})") from None
    except OSError:
        return  # slow or filtered: let the client try with its own timeout


def _release(client: Any) -> None:
    """Every worker running again (a sweep pauses the workers outside its current point)."""
    import contextlib

    from clusterbench.runner.workerset import release

    with contextlib.suppress(Exception):  # a scheduler already gone has nothing to resume
        release(client)
