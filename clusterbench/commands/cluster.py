"""``clusterbench up`` / ``status`` / ``down``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from clusterbench.cluster import lifecycle
from clusterbench.cluster.state import READY, ClusterState
from clusterbench.commands.common import err, out, print_json, report_leftovers
from clusterbench.errors import ClusterbenchError, StateError
from clusterbench.inventory.load import load_inventory

#: How long an interrupted `up` waits for its daemon to stop what it started before it
#: SIGKILLs the daemon's process group (the signal tests ask for everything gone in 10 s).
INTERRUPT_GRACE = 8.0


def up(args: argparse.Namespace) -> int:
    """Start the inventory's cluster in a detached daemon and print its workers."""
    groups, limit = tuple(args.group or ()), args.limit
    inventory = load_inventory(args.inventory, groups=groups, limit=limit)
    if args.dry_run:
        return _dry_run(inventory, args.insecure)
    from clusterbench.cluster.validate import validate_for_up

    validate_for_up(inventory)  # everything `inventory check` refuses, before any process
    _warn_if_insecure(inventory, args.insecure)
    path = lifecycle.claim(inventory.cluster, str(Path(args.inventory).resolve()))
    pid = lifecycle.spawn_daemon(str(Path(args.inventory).resolve()), path, args.timeout,
                                 args.insecure, groups, limit)
    err().print(f"starting cluster {inventory.cluster!r} ({inventory.total_workers} workers) ...")
    try:
        state = lifecycle.wait_ready(path, pid, args.timeout + 30)
    except KeyboardInterrupt:
        # Ctrl-C, SIGTERM or SIGHUP while workers start: the detached daemon would keep the
        # half-started cluster; stop it (bounded: every remote stop step has a timeout).
        lifecycle.stop(path, grace=INTERRUPT_GRACE)
        raise
    _print_state(state)
    for spec_name, reason in state.failures.items():
        err().print(f"[yellow]left out {spec_name}[/]: {reason}")
    return 0


def _warn_if_insecure(inventory: Any, insecure: bool) -> None:
    from clusterbench.cluster.security import INSECURE_WARNING, security_label

    if security_label(inventory, insecure) == "insecure":
        err().print(f"[yellow]warning:[/] {INSECURE_WARNING}")


def _dry_run(inventory: Any, insecure: bool = False) -> int:
    from clusterbench.cluster.dry_run import describe

    for title, text in describe(inventory, insecure):
        out().rule(title)
        print(text, flush=True)
    return 0


def status(args: argparse.Namespace) -> int:
    """Re-read every running cluster live from its scheduler and its queues."""
    states = lifecycle.running_states()
    if not states:
        raise StateError("no cluster is up; start one with 'clusterbench up INVENTORY'")
    if getattr(args, "json", False):
        print_json({"clusters": [cluster_json(state) for _, state in states]})
        return 0
    for _, state in states:
        _print_state(state, _live_workers(state) if state.address else [])
    return 0


def cluster_json(state: ClusterState) -> dict[str, Any]:
    """What ``status --json`` prints of one cluster: scheduler, dashboard, security and the
    table's rows (queue workers with job id, node and queue state; those not registered
    with their job's ``log`` and its last lines, ``log_tail``).

    Parameters
    ----------
    state
        A running cluster's state; its workers are read live from the scheduler.

    Returns
    -------
    dict
        ``cluster``, ``status``, ``scheduler``, ``dashboard``, ``security``, ``workers``,
        ``notes`` (queues that could not be asked; also printed on stderr).
    """
    rows, notes = _rows(state, _live_workers(state) if state.address else [])
    for note in notes:
        err().print(f"[yellow]{note}[/]")
    if state.security == "insecure":
        _print_access_warning()
    return {"cluster": state.cluster, "status": state.status, "scheduler": state.address,
            "dashboard": state.dashboard, "security": state.security, "workers": rows,
            "notes": notes}


def _rows(state: ClusterState,
          registered: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The worker rows of *state* (:func:`worker_rows`, with the logs of queue workers that
    are not registered) and the queues' notes."""
    from clusterbench.cluster.status import query_logs, query_queues, worker_rows

    queue, notes = query_queues(state)
    workers = state.workers if registered is None else registered
    logs = query_logs(state, [str(worker["name"]) for worker in workers])
    return worker_rows(state, workers, queue, logs), notes


def _live_workers(state: ClusterState) -> list[dict[str, Any]]:
    from distributed import Client

    with Client(state.address, timeout=10,
                security=lifecycle.cluster_security(state)) as client:
        info = client.scheduler_info(n_workers=-1)["workers"]
    # Inventory host names beat the scheduler's IPs; queue workers also have them before ready.
    hosts = {w["name"]: w["host"] for w in state.workers}
    for job in state.queue_jobs:
        hosts |= {name: job["host"] for name in job["workers"] if name not in hosts}
    # Same order as `up` printed (inventory order), workers it did not know last.
    order = {name: i for i, name in enumerate(hosts)}
    rows = [{"name": str(w.get("name")), "host": hosts.get(str(w.get("name")), w.get("host")),
             "address": address, "threads": w.get("nthreads"), "memory": w.get("memory_limit"),
             "status": "running"} for address, w in info.items()]
    return sorted(rows, key=lambda row: (order.get(row["name"], len(order)), row["name"]))


def _print_state(state: ClusterState, registered: list[dict[str, Any]] | None = None) -> None:
    """The worker table; queue workers add job id, node and the queue's live state."""
    from dask.utils import format_bytes

    rows, notes = _rows(state, registered)
    address = state.address or "not started yet"
    title = f"cluster {state.cluster!r}  scheduler {address}"
    if state.status != READY:
        title += f"  ({state.status})"
    table = Table(title=title)
    columns = ["worker", "host", "address", "threads", "memory", "status"]
    with_queue = any(row["job"] for row in rows)
    columns += ["job", "node", "queue state"] if with_queue else []
    with_log = any(row.get("log") for row in rows)
    columns += ["log"] if with_log else []
    for column in columns:
        table.add_column(column)
    for row in rows:
        memory = row.get("memory")
        cells = [row["name"], str(row["host"]), row["address"], str(row.get("threads") or "-"),
                 format_bytes(memory) if memory else "-", row.get("status", "running")]
        if with_queue:
            cells += [row["job"] or "-", row["node"] or "-", row["queue_state"] or "-"]
        if with_log:
            cells += [Path(row["log"]).name if row.get("log") else "-"]
        table.add_row(*cells)
    out().print(table)
    for row in rows if with_log else []:
        if row.get("log"):  # a worker that failed or never connected: where to look, and why
            out().print(f"{row['name']}: log {row['log']}", markup=False, highlight=False,
                        soft_wrap=True)
            for line in row["log_tail"]:
                out().print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    for note in notes:
        err().print(f"[yellow]{note}[/]")
    if state.address:
        _print_access(state)


def _print_access(state: ClusterState) -> None:
    """Transport, dashboard and how to reach a dashboard bound to loopback."""
    security = state.security
    if security == "tls":
        out().print("security: TLS (mutual, this cluster's own CA; plain TCP and other "
                    "certificates are refused)")
    elif security == "insecure":
        _print_access_warning()
    elif security == "loopback":
        out().print("security: plain TCP on loopback (local only)")
    dashboard = state.dashboard
    out().print(f"dashboard: {dashboard or 'off'}")
    tunnel = _tunnel_command(state, dashboard)
    if tunnel:
        out().print(f"  from another machine: {tunnel}")


def _print_access_warning() -> None:
    from clusterbench.cluster.security import INSECURE_WARNING

    err().print(f"[yellow]warning:[/] {INSECURE_WARNING}")


def _tunnel_command(state: ClusterState, dashboard: str | None) -> str | None:
    """The SSH tunnel to a dashboard that listens on loopback (of this machine or of the
    scheduler's ssh host), or None."""
    from urllib.parse import urlsplit

    if not dashboard:
        return None
    url = urlsplit(dashboard)
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    port = url.port
    import socket

    where = state.scheduler_ssh or socket.gethostname()
    return f"ssh -N -L {port}:127.0.0.1:{port} {where}  # then open http://127.0.0.1:{port}{url.path}"


def down(args: argparse.Namespace) -> int:
    """Stop every cluster `up` started, and report anything that was left behind."""
    paths = sorted(lifecycle.state_dir().glob("cluster-*.json"))
    if not paths:
        raise StateError("no cluster is up; nothing to stop")
    unverified = []
    for path in paths:
        final = lifecycle.stop(path, grace=args.timeout)
        found = final.leftovers
        if found is None:  # the daemon died before it could check: check from here
            found = _check_hosts(final)
        unverified += report_leftovers(found)
        out().print(f"stopped cluster {final.cluster!r}")
        if getattr(args, "debug", False) and final.teardown:
            err().print(teardown_line(final.teardown))
    if unverified:
        err().print(f"[red]could not verify that nothing is left on: {', '.join(unverified)}[/]")
    return 1 if unverified else 0


def teardown_line(split: dict[str, float]) -> str:
    """``down --debug``'s line: where the daemon's stop spent its time."""
    parts = ", ".join(f"{name.replace('_', ' ')} {seconds:.2f} s"
                      for name, seconds in split.items())
    return f"down: {parts} (total {sum(split.values()):.2f} s in the daemon)"


def _check_hosts(state: ClusterState) -> dict[str, list[str]]:
    """The leftover sweep the daemon runs on stopping, run here when it was killed first."""
    import asyncio

    from clusterbench.cluster.daemon import leftovers

    if not state.inventory or not state.session:
        return {}
    try:
        inventory = state.load_inventory()
    except ClusterbenchError as exc:
        return {"(inventory)": [f"{lifecycle.COULD_NOT_CHECK}: {exc}"]}
    return asyncio.run(leftovers(inventory, state.session))
