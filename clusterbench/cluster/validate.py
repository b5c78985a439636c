"""Everything ``up`` needs from an inventory, checked before anything is started.

``inventory check`` and ``up`` both call :func:`validate_for_up`, so ``up`` never
spawns a daemon for an inventory that ``check`` could have refused, and ``check``
does not say OK for an inventory ``up`` would refuse.  Nothing here starts a process
or opens a connection: the cluster spec is built (pure), files the SSH client will
read are looked at, the scheduler's address is bound to port 0 for an instant when
the scheduler runs on this machine, and queue hosts' submit programs are looked up
on PATH.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from clusterbench.cluster.spec import build_cluster_spec, scheduler_address, scheduler_host
from clusterbench.errors import InventoryError, LaunchError
from clusterbench.inventory.model import Inventory, QueueHost, SSHHost, threads_of
from clusterbench.inventory.safe_yaml import one_line, short

#: Most dask workers one inventory may start (each is a process, an SSH session or a job).
MAX_WORKERS = 10_000
#: Most threads per worker.
MAX_THREADS = 4_096
# What the queue systems accept as a walltime: [D-]HH:MM:SS, MM:SS or minutes (SLURM's
# days prefix only there); anything else is rejected by the submit command after `up`.
_WALLTIME = re.compile(r"\d+(:\d{1,2}){0,2}")
_SLURM_WALLTIME = re.compile(r"(\d+-)?\d+(:\d{1,2}){0,2}")
_PLACEHOLDER_SESSION = "CHECK"


def validate_for_up(inventory: Inventory) -> None:
    """Run every check ``up`` relies on, without starting anything.

    Checks, in order: worker and thread counts are bounded, ``min_workers`` is
    reachable, the scheduler's address resolves (and, for a scheduler on this
    machine, is one of this machine's addresses), its port and dashboard differ,
    queue walltimes have a format the queue accepts, the cluster spec builds,
    SSH identity and known_hosts files exist and are readable, and queue hosts'
    submit programs are on PATH.

    Parameters
    ----------
    inventory
        A loaded inventory (:func:`clusterbench.inventory.load.load_inventory`).

    Raises
    ------
    InventoryError
        One line naming the inventory file, the host and the field.
    LaunchError
        A queue host's submit program (``sbatch``, ...) is not on PATH.
    """
    source = inventory.source
    try:
        _check_counts(inventory)
        _check_scheduler(inventory)
        _check_walltimes(inventory)
        _check_spec_builds(inventory)
        _check_ssh_files(inventory)
    except InventoryError as exc:
        text = str(exc)
        raise InventoryError(one_line(text if text.startswith(source) else f"{source}: {text}")
                             ) from None
    try:
        _check_submit_programs(inventory)
    except LaunchError as exc:
        raise LaunchError(one_line(f"{source}: {exc}")) from None


def _label(inventory: Inventory, index: int) -> str:
    return f"{inventory.source}: hosts[{index}] {short(inventory.hosts[index].name)}"


def _check_counts(inventory: Inventory) -> None:
    total = 0
    for index, host in enumerate(inventory.hosts):
        field = "jobs" if isinstance(host, QueueHost) else "workers"
        total += host.worker_count
        if total > MAX_WORKERS:
            raise InventoryError(f"{_label(inventory, index)}: field {field!r}: the inventory "
                                 f"would start {total:,}+ workers; at most {MAX_WORKERS:,}")
        threads = threads_of(host)
        if threads > MAX_THREADS:
            field = "cores" if isinstance(host, QueueHost) else "threads"
            raise InventoryError(f"{_label(inventory, index)}: field {field!r}: {threads:,} "
                                 f"threads per worker; at most {MAX_THREADS:,}")
    if inventory.min_workers is not None and inventory.min_workers > total:
        raise InventoryError(f"{inventory.source}: field 'min_workers': {inventory.min_workers} "
                             f"but the hosts have {total} workers in all")


def _check_scheduler(inventory: Inventory) -> None:
    spec, source = inventory.scheduler, inventory.source
    try:
        address = scheduler_address(inventory)
    except ValueError as exc:  # distributed: unknown network interface
        raise InventoryError(f"{source}: scheduler: field 'interface': {exc}") from None
    if spec.port and spec.dashboard == spec.port:
        raise InventoryError(f"{source}: scheduler: field 'dashboard': port {spec.port} is the "
                             "scheduler's own port; use another one (or 0: any free port)")
    if scheduler_host(inventory) is not None:
        return  # the address is the ssh host's: it is bound there, not here
    field = "interface" if spec.interface and not spec.address else "address"
    try:
        infos = socket.getaddrinfo(address, 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise InventoryError(f"{source}: scheduler: field {field!r}: cannot resolve "
                             f"{short(address)} ({_reason(exc)})") from None
    family, kind, proto, _, sockaddr = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.bind((sockaddr[0], 0))
    except OSError as exc:
        raise InventoryError(
            f"{source}: scheduler: field {field!r}: {short(address)} is not an address of this "
            f"machine, where the scheduler runs ({_reason(exc)}); set one of its addresses, or "
            "'host: NAME' to run the scheduler on an ssh host") from None


def _check_walltimes(inventory: Inventory) -> None:
    for index, host in enumerate(inventory.hosts):
        if not isinstance(host, QueueHost) or host.walltime is None:
            continue
        pattern = _SLURM_WALLTIME if host.launcher == "slurm" else _WALLTIME
        if not pattern.fullmatch(host.walltime):
            form = "[D-]HH:MM:SS" if host.launcher == "slurm" else "HH:MM:SS"
            raise InventoryError(f"{_label(inventory, index)}: field 'walltime': must be like "
                                 f"{form} (or minutes), got {short(host.walltime)}")


def _check_spec_builds(inventory: Inventory) -> None:
    """What the daemon does first: every launcher turns its host into specs (pure)."""
    build_cluster_spec(inventory, session=_PLACEHOLDER_SESSION)


def _check_ssh_files(inventory: Inventory) -> None:
    """asyncssh reads these when it connects; a missing one fails the host after ``up``."""
    for index, host in enumerate(inventory.hosts):
        if not isinstance(host, SSHHost):
            continue
        files = [("identity", path) for path in host.identity]
        files += [("known_hosts", host.known_hosts)] if host.known_hosts else []
        for field, name in files:
            problem = _unreadable(name)
            if problem:
                raise InventoryError(f"{_label(inventory, index)}: field {field!r}: "
                                     f"{short(name, 200)} {problem}")


def _unreadable(name: str) -> str | None:
    """Why the file *name* (``~`` expanded, as asyncssh does) cannot be read, or None."""
    try:
        path = Path(name).expanduser()
    except (RuntimeError, ValueError):  # ~user that does not exist, NUL in the name
        return "is not a usable path"
    try:
        if not path.exists():
            return "does not exist"
        if not path.is_file():
            return "is not a file"
    except (OSError, ValueError) as exc:
        return f"cannot be read ({_reason(exc)})"
    if not os.access(path, os.R_OK):
        return "is not readable by this user"
    return None


def _check_submit_programs(inventory: Inventory) -> None:
    from clusterbench.launchers.jobqueue import preflight

    checked = set()
    for host in inventory.hosts:
        if isinstance(host, QueueHost) and host.launcher not in checked:
            preflight(host)
            checked.add(host.launcher)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
