"""Where the distributed modes run: a started :class:`Cluster`, an address, ``up``'s
cluster, or one the run starts (:func:`backends_for`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterbench.console import err, report_leftovers
from clusterbench.constants import CLUSTER_MODES
from clusterbench.errors import UsageError
from clusterbench.inventory.default import inventory_from
from clusterbench.runner.backends import ManagedCluster
from clusterbench.runner.scenario import Scenario


class Cluster(ManagedCluster):
    """An inventory's whole cluster, started in this process (as ``clusterbench up``).

    Pass it to :func:`run_scenario` as ``cluster=``: the distributed modes then run on it
    instead of on a cluster of their own, and the run leaves it running.
    """

    @classmethod
    @contextmanager
    def up(cls, inventory_path: str | Path | None = None, timeout: float = 300.0,
           insecure: bool = False) -> Iterator[Cluster]:
        """Start every worker of the inventory; stop them all on leaving the block.

        Parameters
        ----------
        inventory_path : str or Path, optional
            The inventory file; the local default (``inventories/local.yml``) when None.
        timeout : float
            Seconds the workers may take to join.
        insecure : bool
            Plain TCP to remote hosts instead of mutual TLS (see ``--insecure``).

        Yields
        ------
        Cluster
            The started cluster; closed (workers, scheduler, leftover sweep, TLS keys)
            when the block ends, also on an error or Ctrl-C.
        """
        inventory = inventory_from(None if inventory_path is None else str(inventory_path))
        cluster = cls(inventory, timeout=timeout, insecure=insecure)
        warn_insecure(cluster.transport)
        try:
            cluster.workers_for(cluster.max_workers)
            cluster._inventory_order = list(cluster._ready or [])
            yield cluster
        finally:
            cluster.close()
            report_leftovers(cluster.leftovers)

    _inventory_order: list[Any] = []

    def use_order(self, order: str) -> None:
        """Add workers in *order* (a scenario's ``order``) from now on."""
        if order == self.order or self._ready is None:
            self.order = order
            return
        if self.order == "inventory" and not self._inventory_order:
            self._inventory_order = list(self._ready)
        self.order = order
        if order == "fastest-first":
            self._order_fastest_first()
        else:
            self._ready = list(self._inventory_order)


@dataclass(frozen=True)
class Connection:
    """How the distributed modes reach their cluster: the attributes of ``run``'s options
    the helpers below read (``--resume`` passes its argparse namespace instead)."""

    scheduler_address: str | None = None
    attach: bool = False
    insecure: bool = False
    cluster: ManagedCluster | None = None


def backends_for(connection: Any, inventory: Any, scenario: Scenario) -> dict[str, Any]:
    """Mode → cluster backend; the two ``distributed`` modes share one cluster (the
    connection's started ``cluster`` when it has one).  *connection* has the attributes
    of :class:`Connection` (``run --resume`` passes its argparse namespace)."""
    from clusterbench.runner.backends import ExistingCluster, ManagedCluster

    backends: dict[str, Any] = {}
    modes = set(scenario.schedulers)
    uses_cluster = modes & set(CLUSTER_MODES)
    given_cluster = getattr(connection, "cluster", None)
    if (connection.scheduler_address or connection.attach) and not uses_cluster:
        given = f"--scheduler-address {connection.scheduler_address}" \
            if connection.scheduler_address \
            else "--attach"
        raise UsageError(f"{given}: no distributed mode in this run (schedulers: "
                         f"{', '.join(scenario.schedulers)}); add --schedulers distributed")
    if uses_cluster:
        if given_cluster is not None:
            cluster: Any = given_cluster
            if hasattr(cluster, "use_order"):
                cluster.use_order(scenario.order)
        elif connection.scheduler_address:
            # A cluster `up` started brings its own TLS files; for anyone else's the
            # credentials come from dask's config (distributed.comm.tls.*), as for any client.
            from clusterbench.cluster.lifecycle import (
                cluster_security,
                state_for_address,
                worker_hosts,
            )

            address = connection.scheduler_address
            ours = state_for_address(address)
            cluster = ExistingCluster(address, order=scenario.order,
                                      security=None if ours is None else cluster_security(ours),
                                      host_names=worker_hosts(ours))
        elif connection.attach:
            from clusterbench.cluster.lifecycle import (
                cluster_security,
                running_cluster,
                worker_hosts,
            )

            state = running_cluster()
            cluster = ExistingCluster(state["address"], order=scenario.order,
                                      security=cluster_security(state),
                                      host_names=worker_hosts(state))
        else:
            cluster = ManagedCluster(inventory, order=scenario.order,
                                     insecure=getattr(connection, "insecure", False))
            warn_insecure(cluster.transport)
        backends |= {mode: cluster for mode in CLUSTER_MODES}
    if "local-distributed" in modes:
        backends["local-distributed"] = ManagedCluster(inventory_from(None), order=scenario.order)
    return backends


def warn_insecure(security: str) -> None:
    from clusterbench.cluster.security import INSECURE_WARNING

    if security == "insecure":
        err().print(f"[yellow]warning:[/] {INSECURE_WARNING}")


def transport_of(backends: dict[str, Any]) -> str | None:
    """How the run's cluster was reached, for environment.json: ``tls``, ``loopback``,
    ``insecure``, or ``attached`` (a cluster someone else started)."""
    cluster = backends.get("distributed")
    if cluster is None:
        return None
    return cluster.transport


def dashboard_of(backends: dict[str, Any]) -> str | None:
    """The dashboard URL of the run's cluster (linked from the report), or None: no
    distributed mode, no client yet, or a scheduler without a dashboard."""
    cluster = backends.get("distributed")
    client = getattr(cluster, "client", None)
    if client is None:
        return None
    try:
        return str(client.dashboard_link)
    except (KeyError, AttributeError, OSError):  # no "dashboard" service
        return None


def maximum_workers(backends: dict[str, Any], inventory: Any) -> int:
    """What ``max`` means: the distributed cluster's workers, else the inventory's."""
    if "distributed" in backends:
        return backends["distributed"].max_workers
    return inventory.total_workers
