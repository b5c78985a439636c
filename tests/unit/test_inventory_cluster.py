"""InventoryCluster in-process: local hosts only, no root, no daemon (about 15 s)."""

from __future__ import annotations

import asyncio
import json
import sys

import dask
import pytest
from distributed.deploy.subprocess import SubprocessWorker

from clusterbench.cluster.cluster import InventoryCluster
from clusterbench.cluster.spec import build_cluster_spec
from clusterbench.inventory.load import parse_inventory

INVENTORY = {
    "cluster": "unit",
    "scheduler": {"address": "127.0.0.1", "port": 0, "dashboard": None},
    "hosts": [{"name": "here", "launcher": "local", "workers": 3, "threads": 1}],
}
#: SpecCluster closes the spec of a worker this long after it left the scheduler (its
#: default is 15 s).  Here: longer than retiring takes (the nannies close, about 1 s).
LOST_WORKER_WINDOW = 2.5


class LateWorker(SubprocessWorker):
    """A worker that registers seconds after its start returned, like an ssh or queue
    worker (a Nanny's start waits for its worker to register, so it cannot show this)."""

    async def _start(self) -> None:
        spec = json.dumps({"cls": "distributed.Worker", "opts": {"name": self.name,
                                                                 "nthreads": 1}})
        self.process = await asyncio.create_subprocess_exec(
            "sh", "-c", f'sleep {LOST_WORKER_WINDOW + 1}; exec "$0" -m dask spec "$1" --spec "$2"',
            sys.executable, self.scheduler, spec)


async def _names(cluster: InventoryCluster) -> list[str]:
    """Worker names the scheduler has registered right now, sorted."""
    info = await cluster.scheduler_comm.identity()
    return sorted(str(w["name"]) for w in info["workers"].values())


async def _restrict_and_regrow() -> None:
    spec = build_cluster_spec(parse_inventory(INVENTORY, source="unit.yml"), session="unit")
    async with InventoryCluster(spec, asynchronous=True) as cluster:
        ready = await cluster.use_workers(2, timeout=20)
        assert [w.slot.name for w in ready] == ["here-0", "here-1"]
        assert await _names(cluster) == ["here-0", "here-1"]
        ready = await cluster.use_workers(3, timeout=20)
        assert [w.slot.name for w in ready] == ["here-0", "here-1", "here-2"]
        ready = await cluster.use_workers(1, timeout=20)
        assert [w.slot.name for w in ready] == ["here-0"] and list(cluster.workers) == ["here-0"]
        assert await _names(cluster) == ["here-0"]
        # Re-add the two retired workers: the lost-worker timer of each old one fires while
        # the new one of the same name starts, and must not close it (SpecCluster's did).
        for name in ("here-1", "here-2"):
            cluster.inventory_spec.workers[name] = {"cls": LateWorker, "options": {}}
        ready = await cluster.use_workers(3, timeout=15)
        assert [w.slot.name for w in ready] == ["here-0", "here-1", "here-2"]
        assert sorted(cluster.workers) == ["here-0", "here-1", "here-2"]
        assert await cluster.wait_registered(["here-0", "here-1", "here-2"], timeout=5) == ready
        assert await _names(cluster) == ["here-0", "here-1", "here-2"]
        assert not cluster.failures


@pytest.mark.timeout(60)
def test_use_workers_restricts_to_the_first_k_and_regrows_within_the_lost_worker_window():
    with dask.config.set({"distributed.deploy.lost-worker-timeout": f"{LOST_WORKER_WINDOW}s"}):
        asyncio.run(_restrict_and_regrow())
