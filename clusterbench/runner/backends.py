"""Where the ``distributed`` scheduler's workers come from at a sweep point.

* :class:`ManagedCluster`: an :class:`InventoryCluster` started for the run;
  at point k it runs exactly the first k workers of the inventory.
* :class:`ExistingCluster`: a cluster someone else started (``--scheduler-address``
  or ``clusterbench up``); at point k tasks are restricted to k of its workers,
  because resizing a cluster we do not own is not ours to do.

"First k" follows the scenario's ``order``: ``inventory`` (as listed; by name
for an existing cluster) or ``fastest-first``: before the first point every
worker runs a short fixed CPU kernel (all at once, so workers sharing a host
also share its cores, as they will under load) and the workers are added
fastest first.  The per-worker kernel seconds are kept in ``worker_speed``
and stored with the run's calibration.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from clusterbench.errors import LaunchError

ORDERS = ("inventory", "fastest-first")
#: Iterations of the per-worker speed kernel (~0.1 s on one dev-machine core).
SPEED_LOOPS = 1_000_000
SPEED_ROUNDS = 3


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

    def __init__(self, inventory: Any, timeout: float = 300.0, order: str = "inventory") -> None:
        self.inventory = inventory
        self.timeout = timeout
        self.order = order
        self.worker_speed: dict[str, float] = {}
        self._cluster: Any = None
        self.client: Any = None

    @property
    def max_workers(self) -> int:
        return self.inventory.total_workers

    def workers_for(self, count: int) -> PointWorkers:
        """Run exactly the first *count* workers and return them once registered."""
        from distributed import Client

        start = time.perf_counter()
        if self._cluster is None:
            self._cluster = _start_cluster(self.inventory)
            self.client = Client(self._cluster)
            if self.order == "fastest-first":
                self._order_fastest_first()
        ready = self._cluster.sync(self._cluster.use_workers, count, self.timeout)
        return PointWorkers(
            addresses=tuple(w.address for w in ready),
            names=tuple(w.slot.name for w in ready),
            hosts=tuple(w.slot.host for w in ready),
            threads=max(w.slot.threads for w in ready),
            setup_seconds=time.perf_counter() - start,
        )

    def _order_fastest_first(self) -> None:
        """Start every worker once, time the kernel on each, reorder the specs by speed."""
        cluster = self._cluster
        ready = cluster.sync(cluster.use_workers, self.max_workers, self.timeout)
        self.worker_speed = worker_speed(self.client, [w.address for w in ready],
                                         [w.slot.name for w in ready])
        spec_of = {w.slot.name: w.slot.spec_name for w in ready}
        per_spec: dict[str, list[float]] = {}
        for name, seconds in self.worker_speed.items():
            per_spec.setdefault(spec_of[name], []).append(seconds)
        ranked = sorted(cluster.inventory_spec.workers,
                        key=lambda spec: statistics.mean(per_spec.get(spec, [float("inf")])))
        workers = {name: cluster.inventory_spec.workers[name] for name in ranked}
        cluster.inventory_spec = dataclasses.replace(cluster.inventory_spec, workers=workers)

    def close(self) -> None:
        """Stop every worker and the scheduler."""
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def worker_speed(client: Any, addresses: list[str], names: list[str],
                 rounds: int = SPEED_ROUNDS, loops: int = SPEED_LOOPS) -> dict[str, float]:
    """Seconds each worker takes for the fixed CPU kernel (best of *rounds*, all at once).

    Timed on the worker itself, so network latency does not count: this ranks CPU speed
    (including a host's cgroup quota and what else shares its cores).
    """
    best = dict.fromkeys(names, float("inf"))
    for _ in range(rounds):
        futures = [client.submit(_timed_kernel, loops, workers=[address], pure=False,
                                 allow_other_workers=False) for address in addresses]
        for name, seconds in zip(names, client.gather(futures), strict=True):
            best[name] = min(best[name], seconds)
    return best


def _timed_kernel(loops: int) -> float:
    from clusterbench.runner.calibrate import _spin

    start = time.perf_counter()
    _spin(loops)
    return time.perf_counter() - start


def _start_cluster(inventory: Any) -> Any:
    import secrets

    from clusterbench.cluster.cluster import InventoryCluster
    from clusterbench.cluster.spec import build_cluster_spec

    spec = build_cluster_spec(inventory, session=secrets.token_hex(4))
    return InventoryCluster(spec, name=inventory.cluster, asynchronous=False)


@dataclass
class ExistingCluster:
    """Use k workers of a running cluster, chosen in name order."""

    address: str
    timeout: float = 60.0
    order: str = "inventory"
    client: Any = field(default=None, init=False)
    worker_speed: dict[str, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        from distributed import Client

        try:
            self.client = Client(self.address, timeout=self.timeout)
        except OSError as exc:
            raise LaunchError(f"cannot reach the scheduler at {self.address}: {exc}") from None

    @property
    def max_workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def workers_for(self, count: int) -> PointWorkers:
        """The first *count* workers by name or speed (fail if the cluster has fewer)."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        ordered = sorted(workers.items(), key=lambda item: str(item[1].get("name")))
        if self.order == "fastest-first":
            if not self.worker_speed:
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
            hosts=tuple(str(info.get("host")) for _, info in chosen),
            threads=max(int(info.get("nthreads", 1)) for _, info in chosen),
        )

    def close(self) -> None:
        """Disconnect; the cluster itself keeps running (it is not ours)."""
        self.client.close()
