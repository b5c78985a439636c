"""``clusterbench inventory check`` and ``inventory import-ansible``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from clusterbench.commands.common import out, print_json
from clusterbench.inventory.ansible import import_ansible as import_ansible_file
from clusterbench.inventory.ansible import to_yaml
from clusterbench.inventory.load import load_inventory, parse_inventory
from clusterbench.inventory.model import Inventory, threads_of


def check(args: argparse.Namespace) -> int:
    """Validate an inventory (everything ``up`` checks before it starts anything) and print
    its resolved hosts."""
    from clusterbench.cluster.validate import validate_for_up

    inventory = load_inventory(args.file, groups=tuple(args.group or ()), limit=args.limit)
    validate_for_up(inventory)
    if getattr(args, "json", False):
        print_json(inventory_json(inventory))
        return 0
    out().print(hosts_table(inventory))
    for name, lines in host_sources(inventory).items():  # where resolved values came from
        out().print(escape(f"{name}: " + "; ".join(lines)), highlight=False)
    out().print(f"{args.file}: OK, {len(inventory.hosts)} hosts, {inventory.total_workers} workers")
    return 0


def inventory_json(inventory: Inventory) -> dict[str, Any]:
    """What ``inventory check --json`` prints: the resolved hosts, the scheduler, security.

    Parameters
    ----------
    inventory
        A loaded (and checked) inventory.

    Returns
    -------
    dict
        ``cluster``, ``source``, ``security`` (``tls``, ``insecure`` or ``loopback``, as
        ``up`` would run it), ``scheduler`` (address, port, dashboard, ...),
        ``total_workers`` and ``hosts``: every field of each host, with ``workers`` and
        ``threads`` resolved to numbers (``auto`` counted on this machine).
    """
    from clusterbench.cluster.security import security_label

    sources = host_sources(inventory)
    hosts = [_resolved(host).model_dump(mode="json") | {"workers": host.worker_count,
                                                        "threads": threads_of(host)}
             | ({"sources": sources[host.name]} if host.name in sources else {})
             for host in inventory.hosts]
    return {"cluster": inventory.cluster, "source": inventory.source,
            "security": security_label(inventory),
            "scheduler": inventory.scheduler.model_dump(mode="json"),
            "total_workers": inventory.total_workers, "hosts": hosts}


def hosts_table(inventory: Inventory) -> Table:
    """Host, launcher, address, workers, threads, memory, python, tags."""
    table = Table(title=f"inventory {inventory.cluster!r}")
    for column in ("host", "launcher", "address", "workers", "threads", "memory", "python",
                   "tags"):
        table.add_column(column)
    for host in map(_resolved, inventory.hosts):
        table.add_row(
            host.name, host.launcher, getattr(host, "address", "-"), str(host.worker_count),
            str(threads_of(host)), _memory(host.memory), host.python or "(default)",
            ", ".join(host.tags),
        )
    return table


def _resolved(host: Any) -> Any:
    """*host* with the values its launcher takes from elsewhere (the SSH config, dask's
    jobqueue config) filled in, for launchers that have such values."""
    effective = getattr(host, "effective", None)
    return effective() if callable(effective) else host


def host_sources(inventory: Inventory) -> dict[str, list[str]]:
    """``{host: ["FIELD VALUE (ORIGIN)", ...]}`` from launchers that say where values came
    from (SSH config, dask-jobqueue config, inventory, defaults)."""
    from clusterbench.launchers.registry import launcher_of

    found = {}
    for host in inventory.hosts:
        sources = getattr(launcher_of(host), "sources", None)
        if callable(sources):
            found[host.name] = list(sources(host))
    return found


def _memory(value: object) -> str:
    from dask.utils import format_bytes

    return format_bytes(value) if isinstance(value, int) else str(value)


def import_ansible(args: argparse.Namespace) -> int:
    """Convert an Ansible inventory (its selected hosts), validate the result, write or
    print it; say on stderr which reader read it."""
    from clusterbench.console import err

    result = import_ansible_file(args.file, groups=tuple(args.group or ()), limit=args.limit,
                                 reader=args.reader)
    converted = result.inventory
    err().print(f"note: {args.file}: Ansible inventory, {result.reader}: "
                f"{len(converted['hosts'])} host(s)", markup=False, soft_wrap=True)
    if args.scheduler_address:
        scheduler = converted.get("scheduler") or {}
        hosts = converted.pop("hosts")
        converted["scheduler"] = scheduler | {"address": args.scheduler_address}
        converted["hosts"] = hosts
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
