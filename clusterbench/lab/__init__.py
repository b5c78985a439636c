"""The virtual lab: fake heterogeneous hosts on one Linux machine (netns + sshd + cgroups).

Public API::

    from clusterbench.lab import Lab, down, load_state, status, processes_in
    state = Lab().up("pi:4x0.25cpu/512MB,desktop:1x1.0cpu", directory)
    ...  # clusterbench up <directory>/inventory.yml
    down(state)
"""

from __future__ import annotations

from clusterbench.lab.hosts import DEFAULT_NAME, DEFAULT_SUBNET, Lab, down, processes_in
from clusterbench.lab.spec import HostGroup, format_spec, parse_spec
from clusterbench.lab.state import (
    HostState,
    HostStatus,
    LabState,
    default_directory,
    load_state,
    running,
    status,
)

__all__ = [
    "DEFAULT_NAME",
    "DEFAULT_SUBNET",
    "HostGroup",
    "HostState",
    "HostStatus",
    "Lab",
    "LabState",
    "default_directory",
    "down",
    "format_spec",
    "load_state",
    "parse_spec",
    "processes_in",
    "running",
    "status",
]
