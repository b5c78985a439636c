"""``clusterbench lab up|status|down``: the virtual lab of fake hosts."""

from __future__ import annotations

import argparse

from rich.table import Table

from clusterbench.commands.common import out
from clusterbench.errors import LabError


def up(args: argparse.Namespace) -> int:
    """Create the fake hosts and print their table and the inventory to use."""
    from clusterbench.lab import Lab, default_directory

    state = Lab().up(args.spec, default_directory(), subnet=args.subnet)
    _print(state)
    out().print(f"inventory: {state.inventory}")
    out().print(f"next: clusterbench up {state.inventory}")
    return 0


def status(args: argparse.Namespace) -> int:
    """Show every fake host: address, sshd, CPU quota, memory limit."""
    _print(_require_state())
    return 0


def down(args: argparse.Namespace) -> int:
    """Remove every namespace, link, cgroup and process the lab made."""
    from clusterbench.lab import down as remove

    state = _require_state()
    remove(state)
    out().print(f"lab {state.name!r} removed ({len(state.hosts)} hosts)")
    return 0


def _require_state():  # noqa: ANN202 - LabState, imported lazily
    from clusterbench.lab import default_directory, load_state

    state = load_state(default_directory())
    if state is None:
        raise LabError("no lab is up; create one with 'clusterbench lab up SPEC'")
    return state


def _print(state) -> None:  # noqa: ANN001
    from clusterbench.lab import status as host_status

    table = Table(title=f"lab {state.name!r} on {state.bridge} ({state.subnet})")
    for column in ("host", "hostname", "address", "sshd", "cpu", "memory"):
        table.add_column(column)
    for host in host_status(state):
        memory = f"{host.memory_limit // 2**20} MiB" if host.memory_limit else "-"
        cpu = f"{host.cpu_quota:g}" if host.cpu_quota else "-"
        table.add_row(host.name, host.hostname, host.address,
                      "up" if host.sshd_alive and host.listening else "[red]down[/]", cpu, memory)
    out().print(table)
