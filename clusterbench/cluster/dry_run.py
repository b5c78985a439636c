"""``up --dry-run``: what would be started, without starting anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from clusterbench.cluster.security import Credentials, wants_tls
from clusterbench.cluster.spec import scheduler_address, scheduler_host, scheduler_options
from clusterbench.inventory.model import Inventory
from clusterbench.launchers.base import SpecContext, host_port
from clusterbench.launchers.registry import launcher_of

PLACEHOLDER_SESSION = "DRYRUN"


def describe(inventory: Inventory, insecure: bool = False) -> Iterator[tuple[str, str]]:
    """``(title, text)`` per host from its launcher (worker commands, job scripts, ...),
    preceded by the scheduler's command when it runs on an inventory host."""
    address = scheduler_address(inventory)
    port = inventory.scheduler.port or "PORT"
    tls = wants_tls(inventory, insecure)
    scheduler = f"{'tls' if tls else 'tcp'}://{host_port(address, port)}"
    # The real files are made by `up`; the dry run shows where they will be.
    credentials = Credentials(Path("STATE_DIR") / f"tls-{inventory.cluster}-"
                              f"{PLACEHOLDER_SESSION}") if tls else None
    remote = scheduler_host(inventory)
    if remote is not None:
        options = scheduler_options(inventory, address, PLACEHOLDER_SESSION)
        yield launcher_of(remote).describe_scheduler(remote, options, tls)
    context = SpecContext(scheduler_address=address, cluster=inventory.cluster,
                          session=PLACEHOLDER_SESSION, credentials=credentials)
    for host in inventory.hosts:
        yield from launcher_of(host).describe(host, context, scheduler)
