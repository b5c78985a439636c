"""The inventory used when none is given: ``inventories/local.yml`` (this machine)."""

from __future__ import annotations

from pathlib import Path

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
