"""Inventory → SpecCluster specs (pure: no processes, no sockets).

This is the boundary with distributed: everything here is unit-tested
without starting anything; :mod:`clusterbench.cluster.cluster` starts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusterbench.errors import InventoryError
from clusterbench.inventory.model import HostBase, Inventory
from clusterbench.launchers.base import SchedulerOptions, SpecContext, WorkerSlot
from clusterbench.launchers.registry import launcher_of


@dataclass(frozen=True)
class ClusterSpec:
    """Everything SpecCluster needs, plus the ordered list of workers it will register.

    ``workers`` keeps inventory order; ``slots`` lists the dask workers each
    spec registers (a queue job with several processes registers several).
    """

    scheduler: dict[str, Any]
    workers: dict[str, dict[str, Any]]
    slots: tuple[WorkerSlot, ...]
    hosts: tuple[Any, ...] = ()

    def host(self, name: str) -> Any:
        """The inventory host called *name*."""
        return next(host for host in self.hosts if host.name == name)

    def slots_of(self, spec_name: str) -> list[WorkerSlot]:
        """The workers that spec *spec_name* registers."""
        return [slot for slot in self.slots if slot.spec_name == spec_name]


def scheduler_address(inventory: Inventory) -> str:
    """The address the scheduler binds to and workers connect to.

    Local-only inventories use loopback; as soon as another machine must reach
    the scheduler the inventory has to say which of our addresses to use —
    guessing (distributed binds to eth0) is what breaks jobqueue setups
    (dask-jobqueue#391).
    """
    spec = inventory.scheduler
    remote = scheduler_host(inventory)
    if spec.address:
        return _reachable(inventory, spec.address, "address", remote)
    if remote is not None:
        return launcher_of(remote).scheduler_address(remote)
    if spec.interface:
        from distributed.utils import get_ip_interface

        return _reachable(inventory, get_ip_interface(spec.interface), "interface", remote)
    if all_here(inventory):
        return "127.0.0.1"
    raise InventoryError(
        f"{inventory.source}: scheduler: field 'address': required when hosts other than "
        "local ones must reach the scheduler; set an address of this machine they can reach "
        "(or 'interface')"
    )


def _reachable(inventory: Inventory, address: str, field: str, remote: HostBase | None) -> str:
    """*address*, unless it is this machine's loopback while an ssh host elsewhere must
    reach the scheduler here: its workers would dial their own loopback and never register
    (Debian maps the machine's own name to 127.0.1.1, so a host name can be loopback too).
    """
    if remote is not None or not is_loopback(address):
        return address
    for host in inventory.hosts:
        if launcher_of(host).runs_here or not hasattr(host, "effective"):
            continue
        try:
            where = getattr(host.effective(), "address", None)
        except InventoryError:  # its ssh_config: the host's own check says so, with its index
            continue
        if where and is_loopback(where) is False:  # None: does not resolve (said elsewhere)
            raise InventoryError(
                f"{inventory.source}: scheduler: field {field!r}: {address} is this machine's "
                f"loopback, which host {host.name!r} ({where}) cannot reach; set an address "
                "of this machine that host can reach")
    return address


def is_loopback(address: str) -> bool | None:
    """Whether *address* (an IP address or a name) is a loopback address of this machine;
    None for a name that does not resolve."""
    import ipaddress
    import socket

    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(address, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    return bool(found) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback
                               for info in found)


def all_here(inventory: Inventory) -> bool:
    """Every host's workers run on this machine (its launcher ``runs_here``)."""
    return all(launcher_of(host).runs_here for host in inventory.hosts)


def scheduler_host(inventory: Inventory) -> HostBase | None:
    """The host the scheduler runs on (an ssh host), or None when it runs on this machine.

    Raises
    ------
    InventoryError
        When ``scheduler.host`` names no host whose launcher can run the scheduler (the
        loader reports this earlier, with a did-you-mean; inventories built in code land here).
    """
    name = inventory.scheduler.host
    if name == "local":
        return None
    host = next((h for h in inventory.hosts if h.name == name), None)
    if host is None or not launcher_of(host).hosts_scheduler:
        raise InventoryError(
            f"{inventory.source}: scheduler: field 'host': {name!r} is not an ssh host "
            "of the inventory; use 'local' or the name of an ssh host"
        )
    return host


def scheduler_options(inventory: Inventory, address: str, session: str,
                      credentials: Any = None) -> SchedulerOptions:
    """The inventory's scheduler settings, for a launcher that runs the scheduler."""
    spec = inventory.scheduler
    return SchedulerOptions(address=address, port=spec.port, dashboard=spec.dashboard,
                            dashboard_host=spec.dashboard_host, python=spec.python,
                            session=session, credentials=credentials)


def build_cluster_spec(inventory: Inventory, session: str = "", local_directory: str | None = None,
                       credentials: Any = None) -> ClusterSpec:
    """Scheduler spec and ordered worker specs of every host of *inventory*.

    With *credentials* (:class:`~clusterbench.cluster.security.Credentials`) the
    scheduler listens on ``tls://`` and every worker presents the cluster's certificate.
    """
    address = scheduler_address(inventory)
    context = SpecContext(
        scheduler_address=address, cluster=inventory.cluster, session=session,
        local_directory=local_directory, credentials=credentials,
    )
    workers: dict[str, dict[str, Any]] = {}
    slots: list[WorkerSlot] = []
    for host in inventory.hosts:
        launcher = launcher_of(host)
        workers.update(launcher.worker_specs(host, context))
        slots.extend(launcher.slots(host, context))
    scheduler = _scheduler_spec(inventory, address, session, credentials)
    return ClusterSpec(scheduler=scheduler, workers=workers, slots=tuple(slots),
                       hosts=inventory.hosts)


def _scheduler_spec(inventory: Inventory, address: str, session: str,
                    credentials: Any) -> dict[str, Any]:
    spec = inventory.scheduler
    remote = scheduler_host(inventory)
    if remote is not None:
        return launcher_of(remote).scheduler_spec(
            remote, scheduler_options(inventory, address, session, credentials))
    # The HTTP server runs even with the dashboard off (health, metrics): it binds to the
    # dashboard host too, never to the scheduler's (LAN) address by default.
    options: dict[str, Any] = {
        "host": address, "port": spec.port,
        "dashboard_address": f"{spec.dashboard_host}:{spec.dashboard or 0}",
    }
    if spec.dashboard is None:
        options["dashboard"] = False
    if credentials is not None:
        options |= {"protocol": "tls", "security": credentials.security()}
    return {"cls": "distributed.Scheduler", "options": options}


def specs_for(spec: ClusterSpec, workers: int) -> list[str]:
    """Names of the first specs (inventory order) that together register exactly *workers*.

    Raises
    ------
    InventoryError
        When the inventory has fewer workers, or a multi-process queue job
        would overshoot *workers*.
    """
    chosen: list[str] = []
    count = 0
    for name in spec.workers:
        if count >= workers:
            break
        chosen.append(name)
        count += len(spec.slots_of(name))
    if count < workers:
        raise InventoryError(f"the inventory has {count} workers; {workers} were asked for")
    if count > workers:
        raise InventoryError(
            f"{workers} workers cannot be made from whole jobs (spec {chosen[-1]!r} "
            f"starts {len(spec.slots_of(chosen[-1]))}); choose worker counts at job boundaries"
        )
    return chosen
