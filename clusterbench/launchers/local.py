"""Local hosts: dask Nanny processes on the machine running clusterbench."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from clusterbench.inventory.model import LocalHost
from clusterbench.launchers.base import SpecContext, WorkerSlot, blas_env


@dataclass(frozen=True)
class LocalLauncher:
    """Builds ``distributed.Nanny`` specs, one per worker of a local host."""

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

    def slots(self, host: LocalHost, context: SpecContext) -> list[WorkerSlot]:
        """Workers are named ``<host>-<i>``."""
        return [
            WorkerSlot(name=f"{host.name}-{i}", host=host.name, threads=host.threads,
                       spec_name=f"{host.name}-{i}")
            for i in range(host.worker_count)
        ]


LAUNCHER = LocalLauncher()
