"""Preflight checks of every host, run concurrently (``clusterbench doctor``).

Each host is checked by its launcher (:meth:`~clusterbench.launchers.base.Launcher.check`):
SSH hosts log in and run a probe with their own python (versions, machine facts, the
scheduler reachable from there), queue hosts look for their submit program and
queue, local hosts have nothing to check.  Every failure comes with its fix.
"""

from __future__ import annotations

import asyncio
import socket

from clusterbench.cluster.limits import LimitWarning, cluster_warnings
from clusterbench.cluster.spec import scheduler_address, scheduler_host
from clusterbench.inventory.model import Inventory
from clusterbench.launchers.base import HostReport, Probe
from clusterbench.launchers.registry import launcher_of

__all__ = ["HostReport", "LimitWarning", "examine", "limit_warnings"]


async def examine(inventory: Inventory, timeout: float = 30.0) -> list[HostReport]:
    """Check every host concurrently, each by its launcher.

    The scheduler port is tested with a temporary listener at the scheduler address on
    this machine; with the scheduler on an inventory host (``scheduler.host``) that
    address is not ours, and the port is left unchecked (reported as such).
    """
    address = scheduler_address(inventory)
    if scheduler_host(inventory) is not None:
        return await _examine_all(inventory, Probe(address, 0, timeout))
    with socket.create_server((address, inventory.scheduler.port or 0)) as listener:
        listener.setblocking(False)
        return await _examine_all(inventory, Probe(address, listener.getsockname()[1], timeout))


async def _examine_all(inventory: Inventory, probe: Probe) -> list[HostReport]:
    return list(await asyncio.gather(*[launcher_of(host).check(host, probe)
                                       for host in inventory.hosts]))


def limit_warnings(inventory: Inventory) -> list[LimitWarning]:
    """The cluster-level limits large clusters hit first (:mod:`.limits`): ``ulimit -n``
    of this (the scheduler's) machine, network filesystems under the workers' scratch
    directories, heartbeat and connect settings above 100 workers.  Per SSH host, sshd's
    MaxStartups/MaxSessions come with the host's own report (``facts["warnings"]``)."""
    return cluster_warnings(inventory)
