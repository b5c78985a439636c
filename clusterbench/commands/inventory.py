"""``clusterbench inventory check`` and ``inventory import-ansible``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from clusterbench.commands.common import out
from clusterbench.inventory.ansible import read_ansible, to_yaml
from clusterbench.inventory.load import load_inventory, parse_inventory
from clusterbench.inventory.model import Inventory, threads_of


def check(args: argparse.Namespace) -> int:
    """Validate an inventory (everything ``up`` checks before it starts anything) and print
    its resolved hosts."""
    from clusterbench.cluster.validate import validate_for_up

    inventory = load_inventory(args.file)
    validate_for_up(inventory)
    out().print(hosts_table(inventory))
    out().print(f"{args.file}: OK, {len(inventory.hosts)} hosts, {inventory.total_workers} workers")
    return 0


def hosts_table(inventory: Inventory) -> Table:
    """Host, launcher, address, workers, threads, memory, python, tags."""
    table = Table(title=f"inventory {inventory.cluster!r}")
    for column in ("host", "launcher", "address", "workers", "threads", "memory", "python",
                   "tags"):
        table.add_column(column)
    for host in inventory.hosts:
        table.add_row(
            host.name, host.launcher, getattr(host, "address", "-"), str(host.worker_count),
            str(threads_of(host)), _memory(host.memory), host.python or "(default)",
            ", ".join(host.tags),
        )
    return table


def _memory(value: object) -> str:
    from dask.utils import format_bytes

    return format_bytes(value) if isinstance(value, int) else str(value)


def import_ansible(args: argparse.Namespace) -> int:
    """Convert an Ansible inventory, validate the result, write or print it."""
    converted = read_ansible(args.file)
    if args.python:
        for host in converted["hosts"]:
            host.setdefault("python", args.python)
    parse_inventory(converted, source=args.output or args.file)
    text = to_yaml(converted)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        out().print(f"wrote {args.output} ({len(converted['hosts'])} hosts)")
    else:
        print(text, end="")
    return 0
