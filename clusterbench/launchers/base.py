"""The launcher contract and registry.

A launcher turns one inventory host into SpecCluster worker specs::

    {"pi1-0": {"cls": SSHWorker, "options": {...}}, "pi1-1": {...}}

Building specs is pure (no I/O) so it is unit-tested without processes; the
classes named in ``cls`` are distributed ``ProcessInterface``\\ s that
SpecCluster starts and stops (``distributed.Nanny`` for local hosts, our
:class:`~clusterbench.launchers.ssh.SSHWorker`, dask-jobqueue's ``Job``
classes for queues).  A new launcher is one module plus one registry line.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from clusterbench.constants import BLAS_ENV

# launcher name -> "module:attribute" of an object satisfying :class:`Launcher`.
# Imported lazily so that `clusterbench --help` does not import asyncssh/jobqueue.
REGISTRY: dict[str, str] = {
    "local": "clusterbench.launchers.local:LAUNCHER",
    "ssh": "clusterbench.launchers.ssh:LAUNCHER",
    "slurm": "clusterbench.launchers.jobqueue:SLURM",
    "pbs": "clusterbench.launchers.jobqueue:PBS",
    "sge": "clusterbench.launchers.jobqueue:SGE",
    "lsf": "clusterbench.launchers.jobqueue:LSF",
    "htcondor": "clusterbench.launchers.jobqueue:HTCONDOR",
}


@dataclass(frozen=True)
class SpecContext:
    """What every launcher needs to know besides the host itself.

    Parameters
    ----------
    scheduler_address
        Address (host part) workers use to reach the scheduler, or None for "as SpecCluster says".
    cluster
        Cluster name; used in worker names, job names and process tags.
    local_directory
        Scratch directory for local workers.
    session
        A token unique to this ``up``; it tags every remote process so ``down``
        can verify nothing of ours is left.
    credentials
        The cluster's TLS files (:class:`~clusterbench.cluster.security.Credentials`),
        or None for plain TCP.
    """

    scheduler_address: str | None = None
    cluster: str = "clusterbench"
    local_directory: str | None = None
    session: str = ""
    credentials: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkerSlot:
    """One dask worker a host contributes: its name, host and threads (for records)."""

    name: str
    host: str
    threads: int
    spec_name: str


class Launcher(Protocol):
    """Builds the SpecCluster specs of one host (pure)."""

    def worker_specs(self, host: Any, context: SpecContext) -> dict[str, dict[str, Any]]:
        """``{spec_name: {"cls": ..., "options": ...}}`` for every worker/job of *host*."""
        ...

    def slots(self, host: Any, context: SpecContext) -> list[WorkerSlot]:
        """The dask workers those specs will register, in start order."""
        ...


def launcher_for(kind: str) -> Launcher:
    """The registered launcher of *kind* (import on first use)."""
    module, _, attribute = REGISTRY[kind].partition(":")
    return getattr(importlib.import_module(module), attribute)


def blas_env(threads: int) -> dict[str, str]:
    """Environment that caps BLAS/OpenMP at *threads* per worker thread (set before import)."""
    return {name: str(threads) for name in BLAS_ENV}
