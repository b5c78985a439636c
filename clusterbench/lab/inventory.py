"""The clusterbench inventory of a lab: one ``launcher: ssh`` host per fake host."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from clusterbench.inventory.load import load_inventory
from clusterbench.inventory.model import Inventory
from clusterbench.lab.state import HostState, LabState


def inventory_data(state: LabState) -> dict[str, Any]:
    """The inventory mapping of *state* (scheduler on the bridge address, hosts over SSH)."""
    return {
        "cluster": "lab",
        "scheduler": {"address": state.bridge_address},
        "hosts": [_host(state, host) for host in state.hosts],
    }


def _host(state: LabState, host: HostState) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": host.name,
        "launcher": "ssh",
        "address": host.address,
        "port": 22,
        "user": "root",
        "identity": [state.client_key],
        "known_hosts": state.known_hosts,
        # The namespaces share this machine's filesystem, so the same interpreter works.
        "python": state.python,
        "workers": host.workers,
        "threads": host.threads,
        # dask reads only the root cgroup, so it would see every core: state the share.
        "cpus": max(1, math.ceil(host.cpu)),
        "tags": [host.kind],
    }
    if host.memory is not None:
        # dask's memory limit is per worker; the cgroup limit is for the whole host.
        entry["memory"] = host.memory // host.workers
    return entry


def write_inventory(state: LabState) -> Inventory:
    """Write ``state.inventory`` and return it loaded back (so it is known to validate)."""
    header = (
        f"# Written by `clusterbench lab up` for lab {state.name!r} (spec {state.spec}).\n"
        "# The hosts are network namespaces on this machine;"
        " `clusterbench lab down` removes them.\n"
    )
    text = yaml.safe_dump(inventory_data(state), sort_keys=False, default_flow_style=None)
    Path(state.inventory).write_text(header + text)
    return load_inventory(state.inventory)
