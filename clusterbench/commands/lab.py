"""``clusterbench lab up|status|down``: the virtual lab of fake hosts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.table import Table

from clusterbench.commands.common import out
from clusterbench.errors import LabError, UsageError


def up(args: argparse.Namespace) -> int:
    """Create the fake hosts and print their table and the inventory to use.

    With ``-o FILE`` the inventory is also written to FILE (checked writable before any
    host is made); the one in the lab's state directory stays for ``lab down``."""
    from clusterbench.lab import Lab, default_directory

    output = getattr(args, "output", None)
    if output:
        _check_writable(Path(output))
    state = Lab().up(args.spec, default_directory(), subnet=args.subnet)
    inventory = copy_inventory(state.inventory, Path(output)) if output else state.inventory
    _print(state)
    out().print(f"inventory: {inventory}")
    out().print(f"next: clusterbench up {inventory}")
    return 0


def copy_inventory(source: str | Path, target: Path) -> Path:
    """Write the lab's inventory *source* to *target* (whole or not at all).

    The inventory names the lab's keys and known_hosts by absolute path, so the copy works
    from anywhere.

    Raises
    ------
    clusterbench.errors.UsageError
        When *target* cannot be written (the lab is up; its own inventory is named).
    """
    from clusterbench.osutil import atomic_write

    try:
        atomic_write(target, Path(source).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"-o {target}: cannot write the inventory ({exc.strerror or exc}); "
                       f"the lab is up, its inventory is {source}") from None
    return target


def _check_writable(target: Path) -> None:
    """Refuse an ``-o`` that cannot be written before any fake host is made."""
    parent = target.parent
    if target.is_dir():
        raise UsageError(f"-o {target}: is a directory; give a file name")
    if not parent.is_dir():
        raise UsageError(f"-o {target}: no such directory {parent}")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"-o {target}: not writable")


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
