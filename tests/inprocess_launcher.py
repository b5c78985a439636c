"""A launcher of in-process workers, for tests and benchmarks of many workers.

``distributed.Worker`` objects run on the event loop of the process that holds the
cluster (the test, or ``up``'s daemon), so 256 of them start in seconds on two cores
and cost no interpreter each: what is left to measure is clusterbench's own bookkeeping
and dask's scheduler.  Registered for a process and the daemons it starts through
:data:`PLUGIN` (``CLUSTERBENCH_LAUNCHERS``), as any plug-in launcher is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import yaml

from clusterbench.inventory.model import HostBase
from clusterbench.launchers.base import Launcher, SpecContext

__all__ = ["LAUNCHER", "PLUGIN", "STAND_IN_CONFIG", "InprocessHost", "write_inventory"]


class InprocessHost(HostBase):
    """Workers as ``distributed.Worker`` objects in the cluster's own process."""

    launcher: Literal["inprocess"]


class InprocessLauncher(Launcher):
    """One ``distributed.Worker`` spec per worker, on loopback, without a dashboard."""

    name = "inprocess"
    host_model = InprocessHost
    runs_here = True

    def worker_specs(self, host: InprocessHost, context: SpecContext
                     ) -> dict[str, dict[str, Any]]:
        """``{spec name: {"cls": distributed.Worker, ...}}``; SpecCluster passes the name."""
        options = {"nthreads": host.worker_threads, "host": "127.0.0.1",
                   "dashboard": False, "silence_logs": logging.ERROR,
                   "memory_limit": host.memory if host.memory is not None else 0}
        return {slot.spec_name: {"cls": "distributed.Worker", "options": dict(options)}
                for slot in self.slots(host, context)}


LAUNCHER = InprocessLauncher()
#: dask settings for in-process stand-ins, which are not what is measured.  All workers
#: share one process and one event loop: each worker's system monitor counts the
#: *process's* file descriptors every 500 ms (O(workers) each, so O(workers²) in all),
#: its event-loop tick fires every 20 ms and its profiler samples every 10 ms; 256 of each
#: kept the shared loop so busy that one scheduler call waited seconds.
STAND_IN_CONFIG = {"distributed.admin.system-monitor.interval": "10s",
                   "distributed.admin.tick.interval": "1s",
                   "distributed.worker.profile.enabled": False}
#: For the processes a test starts (``up``'s daemon): the launcher and the stand-in config.
PLUGIN = {"CLUSTERBENCH_LAUNCHERS": f"inprocess={__name__}:LAUNCHER",
          "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "10s",
          "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
          "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}


def write_inventory(path: Path, workers: int, cluster: str = "many") -> Path:
    """An inventory of one in-process host with *workers* one-thread workers, scheduler on
    loopback, no dashboard (256 workers' plots are not what is measured)."""
    path.write_text(yaml.safe_dump({
        "cluster": cluster,
        "scheduler": {"address": "127.0.0.1", "port": 0, "dashboard": None},
        "hosts": [{"name": "box", "launcher": "inprocess", "workers": workers,
                   "threads": 1}]}))
    return path
