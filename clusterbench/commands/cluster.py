"""``clusterbench up`` / ``status`` / ``down``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from clusterbench.cluster import lifecycle
from clusterbench.commands.common import err, out
from clusterbench.errors import StateError
from clusterbench.inventory.load import load_inventory


def up(args: argparse.Namespace) -> int:
    """Start the inventory's cluster in a detached daemon and print its workers."""
    inventory = load_inventory(args.inventory)
    if args.dry_run:
        return _dry_run(inventory)
    path = lifecycle.claim(inventory.cluster, str(Path(args.inventory).resolve()))
    pid = lifecycle.spawn_daemon(str(Path(args.inventory).resolve()), path, args.timeout)
    err().print(f"starting cluster {inventory.cluster!r} ({inventory.total_workers} workers) ...")
    state = lifecycle.wait_ready(path, pid, args.timeout + 30)
    _print_state(state)
    for spec_name, reason in state.get("failures", {}).items():
        err().print(f"[yellow]left out {spec_name}[/]: {reason}")
    return 0


def _dry_run(inventory: Any) -> int:
    from clusterbench.cluster.dry_run import describe

    for title, text in describe(inventory):
        out().rule(title)
        print(text)
    return 0


def status(args: argparse.Namespace) -> int:
    """Re-read every running cluster live from its scheduler."""
    states = lifecycle.running_states()
    if not states:
        raise StateError("no cluster is up; start one with 'clusterbench up INVENTORY'")
    for _, state in states:
        _print_state(state | {"workers": _live_workers(state)})
    return 0


def _live_workers(state: dict[str, Any]) -> list[dict[str, Any]]:
    from distributed import Client

    with Client(state["address"], timeout=10) as client:
        info = client.scheduler_info(n_workers=-1)["workers"]
    known = {w["name"]: w for w in state.get("workers", [])}
    return [{"name": str(w.get("name")), "host": known.get(str(w.get("name")), {}).get("host",
             w.get("host")), "address": address, "threads": w.get("nthreads"),
             "memory": w.get("memory_limit"), "status": "running"}
            for address, w in sorted(info.items(), key=lambda i: str(i[1].get("name")))]


def _print_state(state: dict[str, Any]) -> None:
    from dask.utils import format_bytes

    table = Table(title=f"cluster {state.get('cluster')!r}  scheduler {state.get('address')}")
    for column in ("worker", "host", "address", "threads", "memory", "status"):
        table.add_column(column)
    for worker in state.get("workers", []):
        memory = worker.get("memory")
        table.add_row(worker["name"], str(worker["host"]), worker["address"],
                      str(worker["threads"]), format_bytes(memory) if memory else "-",
                      worker.get("status", "running"))
    out().print(table)
    out().print(f"dashboard: {state.get('dashboard') or 'off'}")


def down(args: argparse.Namespace) -> int:
    """Stop every cluster `up` started, and report anything that was left behind."""
    paths = sorted(lifecycle.state_dir().glob("cluster-*.json"))
    if not paths:
        raise StateError("no cluster is up; nothing to stop")
    for path in paths:
        final = lifecycle.stop(path, grace=args.timeout)
        leftovers = final.get("leftovers") or {}
        for host, processes in leftovers.items():
            err().print(f"[yellow]{host}: {len(processes)} process(es) outlived close and were "
                        f"killed[/]")
        out().print(f"stopped cluster {final.get('cluster', path.stem)!r}")
    return 0
