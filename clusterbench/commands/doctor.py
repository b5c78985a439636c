"""``clusterbench doctor -i INVENTORY``."""

from __future__ import annotations

import argparse
import asyncio

from rich.table import Table

from clusterbench.cluster.doctor import examine, limit_warnings
from clusterbench.commands.common import out
from clusterbench.inventory.load import load_inventory


def doctor(args: argparse.Namespace) -> int:
    """Check every host and the cluster's limits; exit 1 when any host fails (warnings,
    yellow, are advice)."""
    inventory = load_inventory(args.inventory, groups=tuple(args.group or ()), limit=args.limit)
    reports = asyncio.run(examine(inventory, args.timeout))
    table = Table(title=f"doctor: {inventory.cluster!r}")
    for column in ("host", "verdict", "python", "cpus", "arch", "login", "problems / fixes"):
        table.add_column(column)
    for report in reports:
        facts = report.facts
        table.add_row(report.host, "[green]ok[/]" if report.ok else "[red]FAIL[/]",
                      str(facts.get("python", "-")), str(facts.get("cpus", "-")),
                      str(facts.get("arch", "-")), _seconds(facts.get("login_s")),
                      "\n".join(report.problems) or "-")
        for warning in facts.get("warnings") or ():
            table.add_row(report.host, "[yellow]warn[/]", "", "", "", "", warning)
    for limit in limit_warnings(inventory):
        table.add_row(limit.subject, "[yellow]warn[/]", "-", "-", "-", "-", limit.text)
    out().print(table)
    return 0 if all(r.ok for r in reports) else 1


def _seconds(value: float | None) -> str:
    """``0.04 s`` for a login's time; ``-`` when not measured (not SSH, or it failed)."""
    return "-" if value is None else f"{value:.2f} s"
