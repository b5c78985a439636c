"""The typed, frozen inventory model.

An inventory describes a cluster: where the scheduler runs and which hosts
contribute workers.  Hosts are a discriminated union on ``launcher`` so that
each launcher validates exactly the fields it understands; unknown keys are
rejected (``extra="forbid"``) and reported with their path by
:mod:`clusterbench.inventory.load`.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from dask.utils import parse_bytes
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    field_validator,
    model_validator,
)

# BLAS_ENV lives in the leaf module; re-exported for callers that import it from here.
from clusterbench.constants import BLAS_ENV as BLAS_ENV

QUEUE_LAUNCHERS = ("slurm", "pbs", "sge", "lsf", "htcondor")
LAUNCHERS = ("local", "ssh", *QUEUE_LAUNCHERS)


def _memory(value: Any) -> Any:
    """Accept ``"auto"``, ``None``, a byte count or a dask size string (``"512MB"``)."""
    if value is None or value == "auto":
        return value
    if isinstance(value, bool):
        raise ValueError(f"must be a size like '2GB' or 'auto', got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"must be a positive size like '2GB' or 'auto', got {value!r}")
        return value
    try:
        parsed = parse_bytes(str(value))
    except (ValueError, TypeError, OverflowError):  # OverflowError: '1e400' is infinite
        raise ValueError(f"must be a size like '2GB' or 'auto', got {value!r}") from None
    if parsed <= 0:
        raise ValueError(f"must be a positive size like '2GB' or 'auto', got {value!r}")
    return int(parsed)


Memory = Annotated[int | Literal["auto"] | None, BeforeValidator(_memory)]
Count = PositiveInt


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SchedulerSpec(_Frozen):
    """Where the dask scheduler runs.

    ``host`` is ``"local"`` (the machine running clusterbench) or the name of an
    ssh host of the inventory.  ``address`` is the address workers use to reach
    it (and the one it binds to); ``interface`` picks the address of a network
    interface instead (useful on HPC login nodes, dask-jobqueue#391).
    """

    host: str = "local"
    address: str | None = None
    interface: str | None = None
    port: Annotated[int, Field(ge=0, le=65535)] = 0
    dashboard: Annotated[int, Field(ge=0, le=65535)] | None = 0  # 0: any free port; null: off
    # The dashboard shows code and data and has no login: loopback unless the inventory
    # says otherwise (``status`` prints the SSH tunnel to reach it).
    dashboard_host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    python: str | None = None


class HostBase(_Frozen):
    """Fields every host has, whatever its launcher."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    workers: Count | Literal["auto"] = 1
    threads: Count = 1
    memory: Memory = "auto"
    python: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    worker_extra_args: tuple[str, ...] = ()

    @field_validator("env", mode="before")
    @classmethod
    def _env_values_are_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():  # a list or null would become "[1, 2]" / "None"
                if not isinstance(item, str | int | float) or not isinstance(key, str | int):
                    bad = key if not isinstance(key, str | int) else item
                    raise ValueError(f"names and values must be strings or numbers, got "
                                     f"{type(bad).__name__} in {key!r}"[:120])
            return {str(k): str(v) for k, v in value.items()}
        return value

    @property
    def worker_count(self) -> int:
        """Number of dask workers this host contributes (``auto`` = this machine's cores)."""
        if self.workers == "auto":
            return os.cpu_count() or 1
        return int(self.workers)


class LocalHost(HostBase):
    """Workers started on this machine as local nanny processes."""

    launcher: Literal["local"]


class SSHHost(HostBase):
    """Workers started over SSH with asyncssh.

    ``known_hosts`` is a path (default: ``~/.ssh/known_hosts``); host keys are
    always checked, and an unknown key is an error that says how to accept it.
    """

    launcher: Literal["ssh"]
    address: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    user: str | None = None
    identity: tuple[str, ...] = ()
    known_hosts: str | None = None
    setup: tuple[str, ...] = ()
    connect_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 10.0
    max_startups: Count = 4
    cpus: Count | None = None
    workers: Count = 1

    @field_validator("identity", "setup", "tags", "worker_extra_args", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class QueueHost(HostBase):
    """Workers started as batch jobs through dask-jobqueue.

    ``workers`` is derived: ``jobs × processes``; ``threads`` is
    ``cores // processes``.  The knobs map one-to-one onto dask-jobqueue's.
    """

    launcher: Literal["slurm", "pbs", "sge", "lsf", "htcondor"]
    jobs: Count = 1
    cores: Count = 1
    processes: Count = 1
    # pydantic does not validate defaults, so the default stays this string (which the
    # jobqueue launcher parses); validating it would change what runs record.
    memory: Memory = "1GB"  # type: ignore[assignment]
    queue: str | None = None
    account: str | None = None
    walltime: str | None = "00:30:00"
    job_extra_directives: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    interface: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    submit_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 120.0
    workers: Count | Literal["auto"] = "auto"
    threads: Count | None = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _consistent_counts(self) -> QueueHost:
        if self.processes > self.cores:
            raise ValueError(f"processes ({self.processes}) cannot exceed cores ({self.cores})")
        if self.workers != "auto" and self.workers != self.jobs * self.processes:
            raise ValueError(
                f"workers ({self.workers}) must equal jobs × processes "
                f"({self.jobs} × {self.processes}); omit 'workers'"
            )
        return self

    @property
    def worker_count(self) -> int:
        return self.jobs * self.processes

    @property
    def threads_per_worker(self) -> int:
        return max(1, self.cores // self.processes)


Host = Annotated[LocalHost | SSHHost | QueueHost, Field(discriminator="launcher")]


class Inventory(_Frozen):
    """A whole cluster description; see ``inventories/*.yml`` for documented examples."""

    cluster: Annotated[str, Field(min_length=1)] = "clusterbench"
    scheduler: SchedulerSpec = SchedulerSpec()
    min_workers: Count | None = None
    #: ``auto``: TLS with a per-cluster CA as soon as a host is not this machine, plain TCP
    #: on loopback; ``tls``: always; ``insecure``: never (warned about everywhere).
    security: Literal["auto", "tls", "insecure"] = "auto"
    hosts: Annotated[tuple[Host, ...], Field(min_length=1)]
    source: str = "<memory>"

    @property
    def total_workers(self) -> int:
        """Workers over all hosts."""
        return sum(host.worker_count for host in self.hosts)

    def host(self, name: str) -> Host:
        """The host called *name* (``KeyError`` if absent)."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


def threads_of(host: HostBase) -> int:
    """Threads per worker of *host* (queue hosts derive it from cores/processes)."""
    return host.threads_per_worker if isinstance(host, QueueHost) else host.threads
