"""The typed, frozen inventory model.

An inventory describes a cluster: where the scheduler runs and which hosts
contribute workers.  Hosts are a union on ``launcher`` over the launcher registry
(:mod:`clusterbench.launchers.base`), so that each launcher's own host model
(in its module) validates exactly the fields it understands; unknown keys are
rejected (``extra="forbid"``) and reported with their path by
:mod:`clusterbench.inventory.load`.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, ClassVar, Literal

from dask.utils import parse_bytes
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    SerializeAsAny,
    ValidationError,
    field_validator,
)

# BLAS_ENV lives in the leaf module; re-exported for callers that import it from here.
from clusterbench.constants import BLAS_ENV as BLAS_ENV


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
    """Fields every host has, whatever its launcher.

    Each launcher's module subclasses it (``launchers/<name>.py``); the class variables
    name the fields errors about the worker and thread counts point at.
    """

    COUNT_FIELD: ClassVar[str] = "workers"
    THREADS_FIELD: ClassVar[str] = "threads"

    launcher: str
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

    @property
    def worker_threads(self) -> int:
        """Threads of each of its workers."""
        return self.threads


def _host_of_its_launcher(index: int, value: Any) -> Any:
    """A host mapping validated by the model of the launcher it names (the registry's)."""
    if not isinstance(value, dict):
        return value  # already a host (or wrong: HostBase's own validation says so)
    from clusterbench.launchers.registry import DEFAULT_LAUNCHER, host_model, launcher_names

    name = value.get("launcher", DEFAULT_LAUNCHER)
    if not isinstance(name, str) or name not in launcher_names():
        raise ValidationError.from_exception_data("Inventory", [{
            "type": "literal_error", "loc": (index, "launcher"), "input": name,
            "ctx": {"expected": ", ".join(repr(n) for n in launcher_names())}}])
    try:
        return host_model(name).model_validate(value | {"launcher": name})
    except ValidationError as exc:
        # Keep the host's index in every error's location (pydantic drops it otherwise).
        errors = [{**error, "loc": (index, *error["loc"])}
                  for error in exc.errors(include_url=False)]
        raise ValidationError.from_exception_data("Inventory", errors) from None  # type: ignore[arg-type]


class Inventory(_Frozen):
    """A whole cluster description; see ``inventories/*.yml`` for documented examples."""

    cluster: Annotated[str, Field(min_length=1)] = "clusterbench"
    scheduler: SchedulerSpec = SchedulerSpec()
    min_workers: Count | None = None
    #: ``auto``: TLS with a per-cluster CA as soon as a host is not this machine, plain TCP
    #: on loopback; ``tls``: always; ``insecure``: never (warned about everywhere).
    security: Literal["auto", "tls", "insecure"] = "auto"
    # Each host is validated by its launcher's model (launchers.base registry): a
    # discriminated union on ``launcher`` that plug-in launchers join at run time.
    hosts: Annotated[tuple[SerializeAsAny[HostBase], ...], Field(min_length=1)]
    source: str = "<memory>"

    @field_validator("hosts", mode="before")
    @classmethod
    def _hosts_by_launcher(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        return tuple(_host_of_its_launcher(index, host) for index, host in enumerate(value))

    @property
    def total_workers(self) -> int:
        """Workers over all hosts."""
        return sum(host.worker_count for host in self.hosts)

    def host(self, name: str) -> HostBase:
        """The host called *name* (``KeyError`` if absent)."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


def threads_of(host: HostBase) -> int:
    """Threads per worker of *host* (queue hosts derive it from cores/processes)."""
    return host.worker_threads
