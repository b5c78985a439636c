"""``up --dry-run``: what would be started, without starting anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from clusterbench.cluster.security import Credentials, wants_tls
from clusterbench.cluster.spec import scheduler_address, scheduler_host
from clusterbench.inventory.model import Inventory, QueueHost, SSHHost
from clusterbench.launchers.base import SpecContext, launcher_for

PLACEHOLDER_SESSION = "DRYRUN"


def describe(inventory: Inventory, insecure: bool = False) -> Iterator[tuple[str, str]]:
    """``(title, text)`` per host: the worker command (ssh/local) or job script (queues),
    preceded by the scheduler's command when it runs on an ssh host."""
    address = scheduler_address(inventory)
    port = inventory.scheduler.port or "PORT"
    tls = wants_tls(inventory, insecure)
    scheduler = f"{'tls' if tls else 'tcp'}://{address}:{port}"
    # The real files are made by `up`; the dry run shows where they will be.
    credentials = Credentials(Path("STATE_DIR") / f"tls-{inventory.cluster}-"
                              f"{PLACEHOLDER_SESSION}") if tls else None
    remote = scheduler_host(inventory)
    if remote is not None:
        from clusterbench.launchers.ssh import scheduler_command

        spec = inventory.scheduler
        yield f"scheduler: ssh {remote.address} ({remote.name})", scheduler_command(
            remote, address, spec.port, spec.dashboard, spec.python, PLACEHOLDER_SESSION,
            spec.dashboard_host, tls=tls)
    context = SpecContext(scheduler_address=address, cluster=inventory.cluster,
                          session=PLACEHOLDER_SESSION, credentials=credentials)
    for host in inventory.hosts:
        if isinstance(host, QueueHost):
            scripts = launcher_for(host.launcher).job_scripts(host, context, scheduler)
            for index, script in enumerate(scripts):
                yield f"{host.name}: job {index + 1} of {host.jobs} ({host.launcher})", script
        elif isinstance(host, SSHHost):
            from clusterbench.launchers.ssh import worker_command

            for i in range(host.worker_count):
                name = f"{host.name}-{i}"
                yield f"{host.name}: ssh {host.address} ({name})", worker_command(
                    host, name, scheduler, PLACEHOLDER_SESSION, tls=tls)
        else:
            yield (f"{host.name}: local", f"{host.worker_count} dask Nanny worker(s) × "
                   f"{host.threads} thread(s), memory {host.memory}")
