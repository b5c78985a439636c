"""The detached process behind ``clusterbench up`` (see :mod:`.lifecycle`).

Usage: ``python -m clusterbench.cluster.daemon INVENTORY STATE_FILE TIMEOUT [--insecure]
[--group NAME]... [--limit PATTERN]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

from clusterbench.cluster.cluster import InventoryCluster, ReadyWorker
from clusterbench.cluster.lifecycle import claimed_state, down_file, write_state
from clusterbench.cluster.security import cluster_credentials, security_label, wants_tls
from clusterbench.cluster.spec import build_cluster_spec
from clusterbench.cluster.state import (
    FAILED,
    READY,
    STARTING,
    ClusterState,
    LeftOut,
    QueueJob,
    WorkerRow,
)
from clusterbench.errors import ClusterbenchError, LaunchError
from clusterbench.inventory.load import load_inventory
from clusterbench.inventory.model import Inventory
from clusterbench.launchers.registry import launcher_for, launcher_of

# How often the daemon re-checks submitted jobs and a stop request while workers start.
PUBLISH_SECONDS = 0.2


async def serve(inventory_path: str, path: Path, timeout: float, insecure: bool = False,
                groups: tuple[str, ...] = (), limit: str | None = None) -> int:
    """Start the cluster (an Ansible inventory's *groups*/*limit* hosts), publish its state,
    wait for SIGTERM, stop everything."""
    inventory = load_inventory(inventory_path, groups=groups, limit=limit)
    session = secrets.token_hex(4)
    credentials = _credentials(inventory, session, path, insecure)
    base = ClusterState(pid=os.getpid(), cluster=inventory.cluster, inventory=inventory_path,
                        groups=groups, limit=limit,
                        session=session, security=security_label(inventory, insecure),
                        tls_dir=str(credentials.directory) if credentials else None,
                        scheduler_ssh=_ssh_target(inventory))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stopping.set)
    spec = build_cluster_spec(inventory, session=session, credentials=credentials)
    cluster = InventoryCluster(spec, name=inventory.cluster,
                               security=credentials.security() if credentials else None)
    try:
        await cluster
        # From here `status` can see the cluster (pid, address) while `up` still waits.
        base = base.with_(address=cluster.scheduler_address,
                          dashboard=_dashboard(cluster, inventory))
        ready = await _start(cluster, inventory, timeout, stopping, path, base)
        state = base.with_(**await _describe(cluster, ready))
        write_state(path, state.with_(status=READY))
        _prepare_cleanup(inventory, inventory.hosts, session)
        await stopping.wait()
    except ClusterbenchError as exc:
        write_state(path, base.with_(status=FAILED, error=str(exc)))
    finally:
        clock = time.perf_counter()
        split: dict[str, float] = {}
        await _close_workers(cluster)
        split["close_workers"], clock = _lap(clock)
        await _closed(cluster)
        split["stop_scheduler"], clock = _lap(clock)
        found = await leftovers(inventory, session)
        split["leftover_sweep"], clock = _lap(clock)
        if credentials is not None:
            credentials.remove()
        print(f"stopped: {split}", file=sys.stderr, flush=True)  # the daemon's log
        write_state(down_file(path), base.with_(leftovers=found, teardown=split))
    return 0


def _lap(since: float) -> tuple[float, float]:
    now = time.perf_counter()
    return round(now - since, 3), now


async def _close_workers(cluster: InventoryCluster) -> None:
    """Stop every worker at once, each by its own ``close`` (SpecCluster's close first
    has the scheduler retire them gracefully, moving data nobody needs after ``down``)."""
    workers = list(cluster.workers.values())
    cluster.worker_spec = {}
    await asyncio.gather(*(_stopped(w) for w in workers))
    cluster.workers.clear()


async def _stopped(worker: Any) -> None:
    with contextlib.suppress(Exception):
        await worker.close()


def _credentials(inventory: Inventory, session: str, path: Path, insecure: bool) -> Any:
    """The cluster's TLS files next to its state file (None: plain TCP)."""
    if not wants_tls(inventory, insecure):
        return None
    return cluster_credentials(inventory, session, path.parent)


async def _start(
    cluster: InventoryCluster,
    inventory: Inventory,
    timeout: float,
    stopping: asyncio.Event,
    path: Path,
    base: ClusterState,
) -> list[ReadyWorker]:
    """``start_all``, publishing submitted jobs while it waits and giving up on SIGTERM.

    Raises
    ------
    LaunchError
        ``down`` asked to stop before the workers were ready.
    """
    start = asyncio.ensure_future(cluster.start_all(timeout, inventory.min_workers))
    published = None
    prepared: set[str] = set()
    while not start.done():
        _prepare_registered(cluster, inventory, base.session or "", prepared)
        # Only once every job is submitted (SpecCluster adds them to .workers together):
        # cancelling sbatch half-way could leave a job that nothing cancels.
        submitted = set(cluster.workers) >= set(cluster.worker_spec)
        jobs = _queue_jobs(cluster) if submitted else None
        if jobs is not None and jobs != published:
            write_state(path, base.with_(status=STARTING, queue_jobs=jobs))
            published = jobs
        if stopping.is_set() and submitted:
            start.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await start
            raise LaunchError("stopped by 'clusterbench down' before all workers registered")
        await asyncio.wait({start}, timeout=PUBLISH_SECONDS)
    return start.result()


def _queue_jobs(cluster: InventoryCluster) -> tuple[QueueJob, ...]:
    """The batch jobs of the cluster: id, host, launcher and the workers each registers."""
    jobs = []
    # Inventory order: SpecCluster fills .workers from a set.
    for spec_name in (n for n in cluster.inventory_spec.workers if n in cluster.workers):
        job_id = getattr(cluster.workers[spec_name], "job_id", None)
        slots = cluster.inventory_spec.slots_of(spec_name)
        if job_id is None or not slots:
            continue
        host = cluster.inventory_spec.host(slots[0].host)
        jobs.append(QueueJob(job=str(job_id), host=host.name, launcher=host.launcher,
                             spec=spec_name, workers=[s.name for s in slots],
                             threads=slots[0].threads))
    return tuple(jobs)


async def _describe(cluster: InventoryCluster, ready: list[ReadyWorker]) -> dict[str, Any]:
    """The :class:`ClusterState` fields of a cluster whose workers are ready."""
    info = await cluster.scheduler_comm.identity()
    workers = info["workers"]
    return {
        "address": cluster.scheduler_address,
        "workers": tuple(_worker_row(w, workers.get(w.address, {})) for w in ready),
        # After start_all: jobs of hosts dropped under min_workers are already cancelled.
        "queue_jobs": _queue_jobs(cluster),
        "failures": dict(cluster.failures),
        # Per worker, for `status`: the workers of hosts dropped under min_workers.
        "left_out": tuple(LeftOut(name=slot.name, host=slot.host, reason=reason)
                          for spec_name, reason in cluster.failures.items()
                          for slot in cluster.inventory_spec.slots_of(spec_name)),
        "local_pids": tuple(p for p in (getattr(w, "pid", None)
                                        for w in cluster.workers.values()) if p),
    }


def _dashboard(cluster: InventoryCluster, inventory: Inventory) -> str | None:
    """The dashboard's URL on the host it binds to (distributed's ``dashboard_link`` names
    the scheduler's address, where a dashboard bound to loopback does not answer)."""
    port = cluster.scheduler_info.get("services", {}).get("dashboard")
    if not port:
        return None
    host = inventory.scheduler.dashboard_host
    if host in ("0.0.0.0", "::", ""):
        host = cluster.scheduler_address.split("://")[-1].rsplit(":", 1)[0]
    return f"http://{host}:{port}/status"


def _ssh_target(inventory: Inventory) -> str | None:
    """``ssh`` arguments that reach the scheduler's host (for the dashboard tunnel)."""
    from clusterbench.cluster.spec import scheduler_host

    host = scheduler_host(inventory)
    return None if host is None else launcher_of(host).tunnel(host)


def _worker_row(worker: ReadyWorker, info: dict[str, Any]) -> WorkerRow:
    return WorkerRow(name=worker.slot.name, host=worker.slot.host, address=worker.address,
                     threads=info.get("nthreads", worker.slot.threads),
                     memory=info.get("memory_limit"))


async def _closed(cluster: InventoryCluster) -> None:
    closing = cluster.close()  # typed "Awaitable | None": None only for a sync cluster
    if closing is not None:
        await closing


def _prepare_registered(cluster: InventoryCluster, inventory: Inventory, session: str,
                        prepared: set[str]) -> None:
    """:func:`_prepare_cleanup` for each host whose workers have all registered (its CPU is
    no longer busy starting them, while other hosts may still be)."""
    registered = {str(w.get("name")) for w in cluster.scheduler_info.get("workers", {}).values()}
    names: dict[str, list[str]] = {}
    for slot in cluster.inventory_spec.slots:
        names.setdefault(slot.host, []).append(slot.name)
    ready = [h for h in inventory.hosts if h.name not in prepared and names.get(h.name)
             and all(name in registered for name in names[h.name])]
    prepared.update(h.name for h in ready)
    _prepare_cleanup(inventory, ready, session)


def _prepare_cleanup(inventory: Inventory, hosts: Any, session: str) -> None:
    """Let the launchers get ``down``'s sweep of *hosts* ready in the background (ssh: a
    shell per host; a host prepared twice is opened once)."""
    for name, group in _by_launcher(inventory, hosts).items():
        launcher_for(name).prepare_cleanup(group, session)


def _by_launcher(inventory: Inventory, hosts: Any = None) -> dict[str, list[Any]]:
    by_launcher: dict[str, list[Any]] = {}
    for host in inventory.hosts if hosts is None else hosts:
        by_launcher.setdefault(host.launcher, []).append(host)
    return by_launcher


async def leftovers(inventory: Inventory, session: str) -> dict[str, list[str]]:
    """Processes of this session still alive on the hosts after close; killed if any.

    Each launcher sweeps its own hosts (:meth:`~clusterbench.launchers.base.Launcher.cleanup`),
    all launchers concurrently.
    """
    found = await asyncio.gather(*[launcher_for(name).cleanup(hosts, session)
                                   for name, hosts in _by_launcher(inventory).items()])
    return {name: lines for result in found for name, lines in result.items()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="clusterbench.cluster.daemon")
    parser.add_argument("inventory")
    parser.add_argument("state", type=Path)
    parser.add_argument("timeout", type=float)
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--group", action="append", default=[])
    parser.add_argument("--limit")
    args = parser.parse_args(argv)
    state_path = args.state
    try:
        return asyncio.run(serve(args.inventory, state_path, args.timeout, args.insecure,
                                 tuple(args.group), args.limit))
    except ClusterbenchError as exc:
        # Raised before the cluster existed (inventory changed since `up` validated it):
        # `up` reports the one line, not the log's traceback.
        claimed = claimed_state(state_path)
        write_state(state_path, claimed.with_(pid=os.getpid(), status=FAILED, error=str(exc)))
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
