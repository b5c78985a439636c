"""What a lab is made of, persisted as ``<lab directory>/lab.json`` so ``down`` works later.

The state lists every resource the lab owns (bridge, namespaces, veths, cgroups,
sshd PIDs); ``down`` removes exactly those and nothing else.  It is written
*before* anything is created and rewritten as PIDs become known, so a crash
half-way through ``up`` still leaves a state that ``down`` can clean from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from clusterbench import osutil
from clusterbench.errors import LabError
from clusterbench.lab import cgroups
from clusterbench.lab.sshd import accepts, is_ours

STATE_FILE = "lab.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class HostState:
    """One fake host: its network namespace, address, sshd and cgroups."""

    name: str
    kind: str
    hostname: str
    netns: str
    veth: str
    address: str
    cpu: float
    memory: int | None
    workers: int
    threads: int
    sshd_config: str
    sshd_log: str
    cgroups: tuple[str, ...]
    sshd_pid: int | None = None


@dataclass(frozen=True)
class LabState:
    """A whole lab: bridge, hosts and the files written for clients (keys, inventory)."""

    name: str
    token: str
    directory: str
    spec: str
    subnet: str
    bridge: str
    bridge_address: str
    python: str
    client_key: str
    known_hosts: str
    inventory: str
    cgroup_parents: tuple[str, ...]
    hosts: tuple[HostState, ...]
    version: int = field(default=SCHEMA_VERSION)

    @property
    def path(self) -> Path:
        """Where this state is stored."""
        return Path(self.directory) / STATE_FILE

    def host(self, name: str) -> HostState:
        """The host called *name* (KeyError if absent)."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def with_host(self, updated: HostState) -> LabState:
        """A copy with the host of the same name replaced by *updated*."""
        hosts = tuple(updated if h.name == updated.name else h for h in self.hosts)
        return replace(self, hosts=hosts)


@dataclass(frozen=True)
class HostStatus:
    """What ``clusterbench lab status`` shows per host."""

    name: str
    kind: str
    hostname: str
    address: str
    sshd_pid: int | None
    sshd_alive: bool
    listening: bool
    cpu_quota: float | None
    memory_limit: int | None


def default_directory() -> Path:
    """``$CLUSTERBENCH_STATE_DIR/lab``, else ``~/.local/state/clusterbench/lab``."""
    return osutil.state_root() / "lab"


def save_state(state: LabState) -> None:
    """Write *state* atomically to ``<directory>/lab.json``."""
    osutil.atomic_write(state.path, json.dumps(asdict(state), indent=2) + "\n")


def load_state(directory: str | Path) -> LabState | None:
    """The lab stored in *directory*, or None when there is none.

    Raises
    ------
    LabError
        When ``lab.json`` exists but cannot be read.
    """
    path = Path(directory) / STATE_FILE
    try:
        data = json.loads(path.read_text())
        hosts = tuple(
            HostState(**host | {"cgroups": tuple(host["cgroups"])}) for host in data.pop("hosts")
        )
        parents = tuple(data.pop("cgroup_parents"))
        return LabState(**data, hosts=hosts, cgroup_parents=parents)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        raise LabError(f"{path}: not a clusterbench lab state ({exc}); remove it by hand") from None


def forget_state(state: LabState) -> None:
    """Remove ``lab.json`` if it still describes *state* (not a newer lab in the same place)."""
    try:
        current = json.loads(state.path.read_text())
    except (FileNotFoundError, ValueError):
        return
    if current.get("token") == state.token:
        state.path.unlink(missing_ok=True)


def running(state: LabState) -> list[str]:
    """Names of the hosts whose sshd is still alive."""
    return [h.name for h in state.hosts if is_ours(h.sshd_pid, h.sshd_config)]


def status(state: LabState) -> list[HostStatus]:
    """Per host: address, sshd alive and listening, CPU quota (cores) and memory limit.

    The hostname is the one the lab set (it lives in sshd's UTS namespace).
    """
    return [_host_status(host) for host in state.hosts]


def _host_status(host: HostState) -> HostStatus:
    alive = is_ours(host.sshd_pid, host.sshd_config)
    paths = {cgroups.controller(Path(p)): Path(p) for p in host.cgroups}
    quota = cgroups.read(paths["cpu"], "cpu.cfs_quota_us") if "cpu" in paths else None
    period = cgroups.read(paths["cpu"], "cpu.cfs_period_us") if "cpu" in paths else None
    memory = cgroups.read(paths["memory"], "memory.limit_in_bytes") if "memory" in paths else None
    return HostStatus(
        name=host.name,
        kind=host.kind,
        hostname=host.hostname,
        address=host.address,
        sshd_pid=host.sshd_pid,
        sshd_alive=alive,
        listening=alive and accepts(host.address),
        cpu_quota=quota / period if quota and period and quota > 0 else None,
        memory_limit=memory,
    )
