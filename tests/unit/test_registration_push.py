"""Registration is awaited by push (issue 16): ``wait_registered`` wakes on the scheduler's
worker-status stream and asks the scheduler itself only to confirm the final set.

Counts round trips to the scheduler, never times (a late worker registers seconds after
its start returned, as an SSH or queue worker does).
"""

from __future__ import annotations

import asyncio

import pytest

from clusterbench.cluster.cluster import InventoryCluster
from clusterbench.cluster.spec import build_cluster_spec
from clusterbench.inventory.load import parse_inventory
from tests.unit.test_inventory_cluster import LateWorker

INVENTORY = {
    "cluster": "push",
    "scheduler": {"address": "127.0.0.1", "port": 0, "dashboard": None},
    "hosts": [{"name": "here", "launcher": "local", "workers": 2, "threads": 1}],
}


async def _late_workers_registered_with_few_round_trips() -> int:
    spec = build_cluster_spec(parse_inventory(INVENTORY, source="push.yml"), session="push")
    for name in spec.workers:
        spec.workers[name] = {"cls": LateWorker, "options": {}}
    async with InventoryCluster(spec, asynchronous=True) as cluster:
        calls = 0
        identity = cluster.scheduler_comm.identity

        async def counted(*args, **kwargs):
            nonlocal calls
            calls += 1
            return await identity(*args, **kwargs)

        cluster.scheduler_comm.identity = counted
        ready = await cluster.use_workers(2, timeout=60)
        assert [w.slot.name for w in ready] == ["here-0", "here-1"]
        assert not cluster.failures
        return calls


@pytest.mark.timeout(90)
def test_wait_registered_is_woken_by_the_scheduler_not_by_polling_it():
    # A 50 ms poll of the scheduler made ~70 calls while a late worker started (3.5 s);
    # pushed, one call confirms the set (two if the second worker's message came late).
    assert asyncio.run(_late_workers_registered_with_few_round_trips()) <= 2
