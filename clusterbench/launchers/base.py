"""The launcher contract, its no-op defaults, and the registry of launchers.

A launcher turns one inventory host into SpecCluster worker specs::

    {"pi1-0": {"cls": SSHWorker, "options": {...}}, "pi1-1": {...}}

and owns everything else clusterbench knows about its kind of host, in one module
(``launchers/<name>.py`` or a package whose ``__init__`` is that module):

=====================  ==============================================================
``host_model``         the pydantic class of its inventory hosts (fields, checks)
``worker_specs``       the specs (pure; the classes are distributed ``ProcessInterface``\\ s)
``slots``              the dask workers those specs register
``describe``           ``up --dry-run``
``validate``           the checks ``inventory check`` and ``up`` make before starting
``check``              ``doctor``
``job_state``          ``status`` of batch jobs (``job_log_tails`` their logs); ``pending``
                       explains unregistered ones in ``up``'s error
``cleanup``            ``down``'s sweep for processes left on its hosts (``prepare_cleanup``
                       readies it while the cluster runs)
=====================  ==============================================================

:class:`Launcher` gives every method but ``worker_specs`` a default, so a new kind of
host is one module, made known by :mod:`clusterbench.launchers.registry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from clusterbench.constants import BLAS_ENV

if TYPE_CHECKING:
    pass

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
class SchedulerOptions:
    """Where and how the scheduler listens, for launchers that can run it on their host."""

    address: str
    port: int
    dashboard: int | None
    dashboard_host: str
    python: str | None
    session: str
    credentials: Any = None


@dataclass(frozen=True)
class WorkerSlot:
    """One dask worker a host contributes: its name, host and threads (for records)."""

    name: str
    host: str
    threads: int
    spec_name: str


@dataclass(frozen=True)
class Probe:
    """What ``doctor`` tells every host's check: the scheduler address and a port that
    listens there for the check (0: not ours to test), and the time allowed."""

    address: str
    port: int
    timeout: float


@dataclass(frozen=True)
class HostReport:
    """The doctor's verdict on one host."""

    host: str
    ok: bool
    facts: dict = field(default_factory=dict)
    problems: tuple[str, ...] = ()


class JobState(NamedTuple):
    """Where one batch job is: ``state`` (SLURM words), ``reason`` it pends, ``node`` it runs on."""

    state: str
    reason: str
    node: str


class Launcher:
    """Base class of launchers: everything but :meth:`worker_specs` has a working default.

    Attributes
    ----------
    name
        The inventory's ``launcher`` value.
    host_model
        The pydantic model of this launcher's hosts (a subclass of
        :class:`~clusterbench.inventory.model.HostBase`).
    runs_here
        Its workers run on this machine: a cluster of such hosts only needs loopback
        (plain TCP on 127.0.0.1, no address to configure).
    hosts_scheduler
        ``scheduler: {host: NAME}`` may name one of its hosts (then it implements the
        ``scheduler_*`` methods).
    """

    name: str
    host_model: ClassVar[type[Any]]
    runs_here: bool = False
    hosts_scheduler: bool = False

    def worker_specs(self, host: Any, context: SpecContext) -> dict[str, dict[str, Any]]:
        """``{spec_name: {"cls": ..., "options": ...}}`` for every worker/job of *host* (pure)."""
        raise NotImplementedError

    def slots(self, host: Any, context: SpecContext) -> list[WorkerSlot]:
        """The dask workers the specs register, in start order (default: one per spec,
        named ``<host>-<i>`` like the specs)."""
        return [WorkerSlot(name=f"{host.name}-{i}", host=host.name,
                           threads=host.worker_threads, spec_name=f"{host.name}-{i}")
                for i in range(host.worker_count)]

    def describe(self, host: Any, context: SpecContext, scheduler: str) -> list[tuple[str, str]]:
        """``up --dry-run``: ``(title, text)`` pairs of what would start for *host*."""
        return [(f"{host.name}: {self.name}", f"{host.worker_count} worker(s) × "
                 f"{host.worker_threads} thread(s), memory {host.memory}")]

    def validate(self, host: Any, where: str) -> None:
        """Checks made before anything starts (no process, no connection).

        Raises
        ------
        InventoryError or LaunchError
            One line beginning with *where* (``FILE: hosts[i] 'name'``).
        """

    async def check(self, host: Any, probe: Probe) -> HostReport:
        """``doctor``'s verdict on *host* (default: nothing to check)."""
        return HostReport(host.name, True, {"launcher": self.name})

    def job_state(self, host: str, job_ids: Sequence[str]) -> dict[str, JobState]:
        """``{job_id: JobState}`` of the batch jobs the queue still lists (default: none)."""
        return {}

    def job_log_tails(self, host: Any, job_ids: Sequence[str], cluster: str | None = None,
                      session: str | None = None) -> dict[str, tuple[str, list[str]]]:
        """``{job_id: (log path, its last lines)}`` of batch jobs, for ``status`` (default:
        none; *host* may be just its name when the inventory cannot be read)."""
        return {}

    def pending(self, host: Any, job_ids: Sequence[str], timeout: float) -> str | None:
        """Why the workers of *job_ids* did not register, for ``up``'s error (or None)."""
        return None

    def prepare_cleanup(self, hosts: Sequence[Any], session: str) -> None:
        """Get ``down``'s :meth:`cleanup` of *hosts* ready in the background once their
        workers have registered (ssh: a plain shell per host); default: nothing."""

    async def cleanup(self, hosts: Sequence[Any], session: str) -> dict[str, list[str]]:
        """After ``down``: processes of *session* still alive on *hosts*, killed if any.

        Returns ``{host name: lines}`` for hosts where something was found, or a line
        starting with :data:`~clusterbench.constants.COULD_NOT_CHECK`.
        """
        return {}

    # Launchers with ``hosts_scheduler`` implement these three.
    def scheduler_address(self, host: Any) -> str:
        """The address workers reach a scheduler on *host* at."""
        raise NotImplementedError(f"the {self.name} launcher cannot run the scheduler")

    def scheduler_spec(self, host: Any, options: SchedulerOptions) -> dict[str, Any]:
        """SpecCluster's ``scheduler`` spec for a scheduler on *host*."""
        raise NotImplementedError(f"the {self.name} launcher cannot run the scheduler")

    def describe_scheduler(self, host: Any, options: SchedulerOptions, tls: bool
                           ) -> tuple[str, str]:
        """``up --dry-run``'s ``(title, command)`` of the scheduler on *host*."""
        raise NotImplementedError(f"the {self.name} launcher cannot run the scheduler")

    def tunnel(self, host: Any) -> str | None:
        """``ssh`` arguments that reach *host* (for the dashboard tunnel), or None."""
        return None


def blas_env(threads: int) -> dict[str, str]:
    """Environment that caps BLAS/OpenMP at *threads* per worker thread (set before import)."""
    return {name: str(threads) for name in BLAS_ENV}


def host_port(host: str, port: int | str) -> str:
    """``host:port``, an IPv6 address in brackets (``[2001:db8::1]:0``), as distributed
    writes and parses addresses."""
    from distributed.comm.addressing import unparse_host_port

    return f"{unparse_host_port(host.strip('[]'), None)}:{port}"  # port may be "PORT"
