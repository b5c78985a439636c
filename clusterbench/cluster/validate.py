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

import socket

from clusterbench.cluster.spec import build_cluster_spec, scheduler_address, scheduler_host
from clusterbench.errors import InventoryError, LaunchError
from clusterbench.inventory.model import Inventory
from clusterbench.inventory.safe_yaml import one_line, short
from clusterbench.launchers.registry import launcher_of

#: Most dask workers one inventory may start (each is a process, an SSH session or a job).
MAX_WORKERS = 10_000
#: Most threads per worker.
MAX_THREADS = 4_096
_PLACEHOLDER_SESSION = "CHECK"


def validate_for_up(inventory: Inventory) -> None:
    """Run every check ``up`` relies on, without starting anything.

    Checks, in order: worker and thread counts are bounded, ``min_workers`` is
    reachable, the scheduler's address resolves (and, for a scheduler on this
    machine, is one of this machine's addresses), its port and dashboard differ,
    each host passes its launcher's checks (:meth:`Launcher.validate`: queue
    walltimes have a format the queue accepts and the submit program is on PATH,
    SSH identity and known_hosts files exist and are readable), and the cluster
    spec builds.

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
        for index, host in enumerate(inventory.hosts):
            launcher_of(host).validate(host, _label(inventory, index))
        _check_spec_builds(inventory)
    except (InventoryError, LaunchError) as exc:
        text = str(exc)
        raise type(exc)(one_line(text if text.startswith(source) else f"{source}: {text}")
                        ) from None


def _label(inventory: Inventory, index: int) -> str:
    return f"{inventory.source}: hosts[{index}] {short(inventory.hosts[index].name)}"


def _check_counts(inventory: Inventory) -> None:
    total = 0
    for index, host in enumerate(inventory.hosts):
        field = host.COUNT_FIELD
        total += host.worker_count
        if total > MAX_WORKERS:
            raise InventoryError(f"{_label(inventory, index)}: field {field!r}: the inventory "
                                 f"would start {total:,}+ workers; at most {MAX_WORKERS:,}")
        threads = host.worker_threads
        if threads > MAX_THREADS:
            field = host.THREADS_FIELD
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


def _check_spec_builds(inventory: Inventory) -> None:
    """What the daemon does first: every launcher turns its host into specs (pure)."""
    build_cluster_spec(inventory, session=_PLACEHOLDER_SESSION)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
