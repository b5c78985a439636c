"""The detached process behind ``clusterbench up`` (see :mod:`.lifecycle`).

Usage: ``python -m clusterbench.cluster.daemon INVENTORY STATE_FILE TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from clusterbench.cluster.cluster import InventoryCluster, ReadyWorker
from clusterbench.cluster.lifecycle import down_file, write_state
from clusterbench.cluster.spec import build_cluster_spec
from clusterbench.errors import ClusterbenchError
from clusterbench.inventory.load import load_inventory
from clusterbench.inventory.model import Inventory, SSHHost


async def serve(inventory_path: str, path: Path, timeout: float) -> int:
    """Start the cluster, publish its state, wait for SIGTERM, stop everything."""
    inventory = load_inventory(inventory_path)
    session = secrets.token_hex(4)
    base = {"pid": os.getpid(), "cluster": inventory.cluster, "inventory": inventory_path,
            "session": session}
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stopping.set)
    spec = build_cluster_spec(inventory, session=session)
    cluster = InventoryCluster(spec, name=inventory.cluster)
    try:
        await cluster
        ready = await cluster.start_all(timeout, inventory.min_workers)
        state = base | await _describe(cluster, ready)
        write_state(path, state | {"status": "ready"})
        await stopping.wait()
    except ClusterbenchError as exc:
        write_state(path, base | {"status": "failed", "error": str(exc)})
    finally:
        await cluster.close()
        leftovers = await _leftovers(inventory, session)
        write_state(down_file(path), base | {"leftovers": leftovers})
    return 0


async def _describe(cluster: InventoryCluster, ready: list[ReadyWorker]) -> dict[str, Any]:
    info = await cluster.scheduler_comm.identity()
    workers = info["workers"]
    return {
        "address": cluster.scheduler_address,
        "dashboard": cluster.dashboard_link if cluster.scheduler_info.get("services") else None,
        "workers": [_worker_row(w, workers.get(w.address, {})) for w in ready],
        "failures": cluster.failures,
        "local_pids": [p for p in (getattr(w, "pid", None) for w in cluster.workers.values())
                       if p],
    }


def _worker_row(worker: ReadyWorker, info: dict[str, Any]) -> dict[str, Any]:
    return {"name": worker.slot.name, "host": worker.slot.host, "address": worker.address,
            "threads": info.get("nthreads", worker.slot.threads),
            "memory": info.get("memory_limit")}


async def _leftovers(inventory: Inventory, session: str) -> dict[str, list[str]]:
    """Processes of this session still alive on SSH hosts after close; killed if any."""
    from clusterbench.launchers.ssh import kill_leftovers, leftover_processes

    found: dict[str, list[str]] = {}
    for host in (h for h in inventory.hosts if isinstance(h, SSHHost)):
        try:
            await asyncio.sleep(0)
            remaining = await leftover_processes(host, session)
            if remaining:
                found[host.name] = remaining
            await kill_leftovers(host, session)
        except (ClusterbenchError, OSError) as exc:
            found[host.name] = [f"could not check: {exc}"]
    return found


def main(argv: list[str]) -> int:
    inventory_path, state_path, timeout = argv[0], Path(argv[1]), float(argv[2])
    return asyncio.run(serve(inventory_path, state_path, timeout))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
