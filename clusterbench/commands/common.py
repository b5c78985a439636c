"""Small helpers shared by the commands: default inventory, consoles."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from clusterbench.inventory.load import load_inventory
from clusterbench.inventory.model import Inventory

PACKAGED_LOCAL = Path(__file__).resolve().parent.parent / "defaults" / "local.yml"


def default_inventory_path() -> Path:
    """``inventories/local.yml`` in the working directory, else the packaged copy."""
    local = Path("inventories") / "local.yml"
    return local if local.exists() else PACKAGED_LOCAL


def inventory_from(path: str | None) -> Inventory:
    """Load *path*, or the local default when None."""
    return load_inventory(path or default_inventory_path())


def out() -> Console:
    """Console for results (stdout); wide enough for the speedup table when piped."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=200)


def err() -> Console:
    """Console for progress and notes (stderr), so stdout stays parseable."""
    return Console(stderr=True, highlight=False)


def report_leftovers(found: dict[str, list[str]]) -> list[str]:
    """Print what a leftover sweep found (``down``, a managed run); the hosts that could not
    be checked."""
    from rich.markup import escape

    from clusterbench.cluster.lifecycle import COULD_NOT_CHECK

    unverified = []
    for host, lines in found.items():
        if lines and lines[0].startswith(COULD_NOT_CHECK):
            unverified.append(host)
            err().print(f"[yellow]{host}: {escape(lines[0])}[/]")
        else:
            err().print(f"[yellow]{host}: {len(lines)} process(es) outlived close and were "
                        f"killed[/]")
    return unverified
