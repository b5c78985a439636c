"""Local hosts: dask Nanny processes on the machine running clusterbench."""

from __future__ import annotations

import logging
from typing import Any, Literal

from clusterbench.inventory.model import HostBase
from clusterbench.launchers.base import Launcher, SpecContext, blas_env


class LocalHost(HostBase):
    """Workers started on this machine as local nanny processes."""

    launcher: Literal["local"]


class LocalLauncher(Launcher):
    """Builds ``distributed.Nanny`` specs, one per worker of a local host."""

    name = "local"
    host_model = LocalHost
    runs_here = True

    def worker_specs(self, host: LocalHost, context: SpecContext) -> dict[str, dict[str, Any]]:
        """One Nanny spec per worker; BLAS capped at one thread per worker thread."""
        options = {
            "nthreads": host.threads,
            "memory_limit": host.memory if host.memory is not None else 0,
            "env": blas_env(1) | host.env,
            "dashboard_address": None,
            "host": context.scheduler_address or "127.0.0.1",
            "local_directory": context.local_directory,
            "silence_logs": logging.WARNING,
            # Ctrl-C is clusterbench's to handle, not each worker's (no traceback per worker).
            "preload": ["clusterbench.launchers.quiet_interrupt"],
        }
        if context.credentials is not None:
            options["security"] = context.credentials.security()
        return {
            slot.spec_name: {"cls": "distributed.Nanny", "options": dict(options)}
            for slot in self.slots(host, context)
        }

    def describe(self, host: LocalHost, context: SpecContext, scheduler: str
                 ) -> list[tuple[str, str]]:
        """The local workers in one line (they are Nanny processes, no command to show)."""
        return [(f"{host.name}: local", f"{host.worker_count} dask Nanny worker(s) × "
                 f"{host.threads} thread(s), memory {host.memory}")]


LAUNCHER = LocalLauncher()
