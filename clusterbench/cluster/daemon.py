"""The detached process behind ``clusterbench up`` (see :mod:`.lifecycle`).

Usage: ``python -m clusterbench.cluster.daemon INVENTORY STATE_FILE TIMEOUT [--insecure]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from clusterbench.cluster.cluster import InventoryCluster, ReadyWorker
from clusterbench.cluster.lifecycle import COULD_NOT_CHECK, claimed_state, down_file, write_state
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
from clusterbench.inventory.model import Inventory, SSHHost

# How often the daemon re-checks submitted jobs and a stop request while workers start.
PUBLISH_SECONDS = 0.2


async def serve(inventory_path: str, path: Path, timeout: float, insecure: bool = False) -> int:
    """Start the cluster, publish its state, wait for SIGTERM, stop everything."""
    inventory = load_inventory(inventory_path)
    session = secrets.token_hex(4)
    credentials = _credentials(inventory, session, path, insecure)
    base = ClusterState(pid=os.getpid(), cluster=inventory.cluster, inventory=inventory_path,
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
        await stopping.wait()
    except ClusterbenchError as exc:
        write_state(path, base.with_(status=FAILED, error=str(exc)))
    finally:
        await cluster.close()
        found = await leftovers(inventory, session)
        if credentials is not None:
            credentials.remove()
        write_state(down_file(path), base.with_(leftovers=found))
    return 0


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
    while not start.done():
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
    if host is None:
        return None
    port = f"-p {host.port} " if host.port != 22 else ""
    return f"{port}{host.user + '@' if host.user else ''}{host.address}"


def _worker_row(worker: ReadyWorker, info: dict[str, Any]) -> WorkerRow:
    return WorkerRow(name=worker.slot.name, host=worker.slot.host, address=worker.address,
                     threads=info.get("nthreads", worker.slot.threads),
                     memory=info.get("memory_limit"))


async def leftovers(inventory: Inventory, session: str) -> dict[str, list[str]]:
    """Processes of this session still alive on SSH hosts after close; killed if any.

    Hosts are checked concurrently, all checks before any kill: fake lab hosts share
    one PID space, and one host's ``rm -rf <session dir>`` would show up as a leftover
    in another host's check.
    """
    from clusterbench.launchers.ssh import kill_leftovers, leftover_processes

    hosts = [h for h in inventory.hosts if isinstance(h, SSHHost)]
    found = await asyncio.gather(*[_guarded(leftover_processes(h, session)) for h in hosts])
    # Kill and clean only where the check got an answer: an unreachable host would only
    # make `down` wait once more for nothing (it is reported as not checked).
    reached = [h for h, lines in zip(hosts, found, strict=True) if not _unchecked(lines)]
    await asyncio.gather(*[_guarded(kill_leftovers(h, session)) for h in reached])
    return {host.name: remaining for host, remaining in zip(hosts, found, strict=True)
            if remaining}


def _unchecked(lines: list[str]) -> bool:
    return bool(lines) and lines[0].startswith(COULD_NOT_CHECK)


async def _guarded(check: Any) -> Any:
    """*check*'s result, or a one-item list saying why the host could not be checked."""
    try:
        return await check
    except (ClusterbenchError, OSError) as exc:
        return [f"{COULD_NOT_CHECK}: {exc or type(exc).__name__}"]


def main(argv: list[str]) -> int:
    inventory_path, state_path, timeout = argv[0], Path(argv[1]), float(argv[2])
    try:
        return asyncio.run(serve(inventory_path, state_path, timeout, "--insecure" in argv[3:]))
    except ClusterbenchError as exc:
        # Raised before the cluster existed (inventory changed since `up` validated it):
        # `up` reports the one line, not the log's traceback.
        claimed = claimed_state(state_path)
        write_state(state_path, claimed.with_(pid=os.getpid(), status=FAILED, error=str(exc)))
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
