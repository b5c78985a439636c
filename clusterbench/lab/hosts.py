"""Bring a virtual lab of fake heterogeneous hosts up and down.

A fake host is a network namespace with its own address on a private bridge,
its own sshd (own hostname, own host key) and a cgroup that caps its CPU share
and memory.  ``up`` plans every resource into a :class:`LabState` and saves it
*before* creating anything; if anything fails, everything made so far is
removed again.  ``down`` removes exactly what a state lists and may be repeated.

Lab directory layout (``up`` writes it; ``down`` only removes ``lab.json``)::

    lab.json                  the state (see clusterbench.lab.state)
    inventory.yml             clusterbench inventory: one ssh host per fake host
    known_hosts               the fake hosts' host keys, keyed by address
    id_ed25519, id_ed25519.pub    the client key (root login on every fake host)
    authorized_keys           the client public key, read by every sshd
    hosts/<host>/ssh_host_ed25519_key(.pub), sshd_config, sshd.log
"""

from __future__ import annotations

import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Network
from pathlib import Path

from clusterbench.errors import ClusterbenchError, LabError
from clusterbench.lab import cgroups, netns, sshd
from clusterbench.lab.inventory import write_inventory
from clusterbench.lab.spec import HostGroup, format_spec, parse_spec
from clusterbench.lab.state import (
    HostState,
    LabState,
    default_directory,
    forget_state,
    load_state,
    running,
    save_state,
)
from clusterbench.lab.system import require_lab_support, require_root, terminate

DEFAULT_SUBNET = "10.203.0.0/24"
DEFAULT_NAME = "cb"
MAX_HOSTS = 250
# Bridge "<name>br0" and veths "<name>v<N>" must fit Linux's 15-character device names.
_LAB_NAME = re.compile(r"^[a-z][a-z0-9]{0,7}$")


class Lab:
    """Makes and removes virtual labs.

    Parameters
    ----------
    name
        Short lab name (``[a-z][a-z0-9]{0,7}``): bridge ``<name>br0``, namespaces
        ``<name>-<host>``, cgroups ``clusterbench-<name>/<host>``.
    ready_timeout
        Seconds for all sshds to accept connections.
    grace
        Seconds between SIGTERM and SIGKILL when stopping processes in ``down``.
    """

    def __init__(
        self, name: str = DEFAULT_NAME, *, ready_timeout: float = 10.0, grace: float = 3.0
    ):
        if not _LAB_NAME.match(name):
            raise LabError(f"lab name {name!r}: expected 1-8 lowercase letters/digits, like 'cb'")
        self.name = name
        self.ready_timeout = ready_timeout
        self.grace = grace

    def up(
        self,
        spec: str | tuple[HostGroup, ...],
        directory: str | Path | None = None,
        subnet: str = DEFAULT_SUBNET,
        python: str = sys.executable,
    ) -> LabState:
        """Create the fake hosts of *spec* and write keys, known_hosts and inventory.yml.

        Parameters
        ----------
        spec
            A lab spec string (see :mod:`clusterbench.lab.spec`) or parsed groups.
        directory
            Where keys, configs, logs and ``lab.json`` go; default :func:`default_directory`.
        subnet
            Private IPv4 network for the bridge (first address) and hosts (next ones).
        python
            Interpreter the inventory tells workers to use (the namespaces share this filesystem).

        Returns
        -------
        LabState
            Also saved as ``<directory>/lab.json``.

        Raises
        ------
        LabError
            Bad spec/subnet, not root/Linux, missing tools, a lab already running, or a
            fake host that failed to start (everything made so far is removed first).
        """
        groups = parse_spec(spec) if isinstance(spec, str) else tuple(spec)
        count = sum(group.count for group in groups)
        if count > MAX_HOSTS:
            raise LabError(f"lab spec {format_spec(groups)!r}: {count} hosts, at most {MAX_HOSTS}")
        net = netns.lab_subnet(subnet, count)
        require_lab_support(memory=any(group.memory is not None for group in groups))
        where = Path(directory or default_directory()).expanduser().resolve()
        where.mkdir(parents=True, exist_ok=True)
        _refuse_previous(where)
        state = plan(self.name, groups, where, net, python)
        _refuse_conflicts(state, net)
        save_state(state)
        try:
            return _build(state, net.prefixlen, self.ready_timeout)
        except BaseException as exc:
            _undo(load_state(where) or state, exc, self.grace)
            raise

    def down(self, state: LabState) -> None:
        """Remove everything *state* lists (see :func:`down`)."""
        down(state, grace=self.grace)


def plan(
    name: str, groups: tuple[HostGroup, ...], directory: Path, net: IPv4Network, python: str
) -> LabState:
    """The state of a lab before anything exists: names, addresses, paths (pure)."""
    addresses = net.hosts()
    bridge_address = str(next(addresses))
    hosts: list[HostState] = []
    for group in groups:
        for host in group.names:
            hosts.append(
                _plan_host(name, group, host, len(hosts) + 1, str(next(addresses)), directory)
            )
    controllers = {cgroups.controller(Path(p)) for host in hosts for p in host.cgroups}
    return LabState(
        name=name,
        token=secrets.token_hex(8),
        directory=str(directory),
        spec=format_spec(groups),
        subnet=str(net),
        bridge=f"{name}br0",
        bridge_address=bridge_address,
        python=python,
        client_key=str(directory / "id_ed25519"),
        known_hosts=str(directory / "known_hosts"),
        inventory=str(directory / "inventory.yml"),
        cgroup_parents=tuple(str(cgroups.lab_parent(c, name)) for c in sorted(controllers)),
        hosts=tuple(hosts),
    )


def _plan_host(
    lab: str, group: HostGroup, name: str, index: int, address: str, directory: Path
) -> HostState:
    home = directory / "hosts" / name
    controllers = cgroups.host_settings(group.cpu, group.memory)
    return HostState(
        name=name,
        kind=group.kind,
        hostname=name,
        netns=f"{lab}-{name}",
        veth=f"{lab}v{index}",
        address=address,
        cpu=group.cpu,
        memory=group.memory,
        workers=group.workers,
        threads=group.threads,
        sshd_config=str(home / "sshd_config"),
        sshd_log=str(home / "sshd.log"),
        cgroups=tuple(str(cgroups.lab_parent(c, lab) / name) for c in controllers),
    )


def _refuse_previous(directory: Path) -> None:
    """Refuse while a lab from *directory* still exists; forget a fully vanished one."""
    old = load_state(directory)
    if old is None:
        return
    if running(old) or _leftovers(old):
        raise LabError(
            f"a lab is already up from {directory} ({old.spec}); run `clusterbench lab down` first"
        )
    forget_state(old)


def _leftovers(state: LabState) -> list[str]:
    """Resources of *state* that still exist."""
    found = [state.bridge] if netns.link_exists(state.bridge) else []
    found += [h.netns for h in state.hosts if netns.netns_exists(h.netns)]
    found += [p for p in state.cgroup_parents if Path(p).exists()]
    return found


def _refuse_conflicts(state: LabState, net: IPv4Network) -> None:
    """Refuse to touch devices, namespaces, cgroups or routes that someone else owns."""
    taken = _leftovers(state) + [h.veth for h in state.hosts if netns.link_exists(h.veth)]
    if taken:
        raise LabError(
            f"lab {state.name!r}: {', '.join(taken[:3])} already exist "
            "(another lab of that name?); run `clusterbench lab down` or pick another lab name"
        )
    conflict = netns.subnet_conflict(net)
    if conflict:
        raise LabError(f"lab subnet {net}: overlaps existing {conflict}; pick another subnet")


def _build(state: LabState, prefixlen: int, timeout: float) -> LabState:
    directory = Path(state.directory)
    authorized = directory / "authorized_keys"
    client = sshd.write_key(Path(state.client_key), f"clusterbench-lab-{state.name}")
    authorized.write_text(client + "\n")
    netns.create_bridge(state.bridge, state.bridge_address, prefixlen)
    host_keys = {h.address: _prepare_host(state, h, prefixlen, authorized) for h in state.hosts}
    for host in state.hosts:
        state = _start_host(state, host)
    _wait_for_sshds(state, timeout)
    Path(state.known_hosts).write_text(sshd.known_hosts_text(host_keys))
    write_inventory(state)
    return state


def _wait_for_sshds(state: LabState, timeout: float) -> None:
    """Wait until every sshd listens, then check each recorded PID really is that sshd."""
    sshd.wait_ready(
        {h.name: (h.address, h.sshd_pid or 0, Path(h.sshd_log)) for h in state.hosts}, timeout
    )
    for host in state.hosts:
        # nsenter, unshare and sh all exec, so the spawned PID must be sshd; down relies on it.
        if not sshd.is_ours(host.sshd_pid, host.sshd_config):
            raise LabError(f"fake host {host.name}: PID {host.sshd_pid} is not its sshd")


def _prepare_host(state: LabState, host: HostState, prefixlen: int, authorized: Path) -> str:
    """Network, host key, sshd config and cgroups of one host; return its public host key."""
    home = Path(host.sshd_config).parent
    home.mkdir(parents=True, exist_ok=True)
    cidr = f"{host.address}/{prefixlen}"
    netns.create_host_network(host.netns, host.veth, state.bridge, cidr, state.bridge_address)
    key = home / "ssh_host_ed25519_key"
    public = sshd.write_key(key, host.name)
    config = sshd.config_text(host.address, key, home / "sshd.pid", authorized)
    Path(host.sshd_config).write_text(config)
    settings = cgroups.host_settings(host.cpu, host.memory)
    for path in host.cgroups:
        cgroups.create(Path(path), settings[cgroups.controller(Path(path))])
    return public


def _start_host(state: LabState, host: HostState) -> LabState:
    """Start the host's sshd, put it in the host's cgroups, record its PID."""
    Path(host.sshd_log).unlink(missing_ok=True)
    pid = sshd.start(host.netns, host.hostname, Path(host.sshd_config), Path(host.sshd_log))
    state = state.with_host(replace(host, sshd_pid=pid))
    save_state(state)
    # Attach before sshd accepts anything, so every session inherits the limits.
    cgroups.attach([Path(p) for p in host.cgroups], pid)
    return state


def _undo(state: LabState, cause: BaseException, grace: float) -> None:
    try:
        down(state, grace=grace)
    except ClusterbenchError as exc:
        raise LabError(f"lab up failed ({cause}) and cleanup did not finish: {exc}") from cause


def down(state: LabState, grace: float = 3.0) -> None:
    """Stop every process of the lab and remove its cgroups, namespaces, veths and bridge.

    Idempotent: what is already gone is skipped, so it works twice and on a
    half-made lab.  Removes nothing the state does not list, and ``lab.json``
    last, only once everything else is gone.

    Raises
    ------
    LabError
        Naming the first resource that could not be removed (the rest were still tried).
    """
    require_root()
    # sshd first, so no new session starts a process while the namespaces are swept.
    terminate([h.sshd_pid for h in state.hosts
               if h.sshd_pid is not None and sshd.is_ours(h.sshd_pid, h.sshd_config)], grace)
    terminate([pid for pids in processes_in(state).values() for pid in pids], grace)
    problems: list[str] = []
    for path in [p for h in state.hosts for p in h.cgroups] + list(state.cgroup_parents):
        _attempt(problems, f"cgroup {path}", cgroups.remove, Path(path))
    for host in state.hosts:
        _attempt(
            problems, f"namespace {host.netns}", netns.delete_host_network, host.netns, host.veth
        )
    _attempt(problems, f"bridge {state.bridge}", netns.delete_bridge, state.bridge)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise LabError(f"lab {state.name!r} down could not remove {problems[0]}{more}")
    forget_state(state)


def _attempt(problems: list[str], what: str, action: Callable[..., object], *args: object) -> None:
    try:
        action(*args)
    except (ClusterbenchError, OSError) as exc:
        problems.append(f"{what}: {exc}")


def processes_in(state: LabState) -> dict[str, list[int]]:
    """PIDs of the processes inside each fake host's namespace (``ip netns pids``).

    Returns
    -------
    dict
        ``{host name: [pid, ...]}``; an empty list for a host whose namespace is gone.
    """
    return {host.name: netns.pids_in(host.netns) for host in state.hosts}
