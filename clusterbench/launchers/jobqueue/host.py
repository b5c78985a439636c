"""The inventory model of queue hosts (pure pydantic; one model for every queue system),
and where each of its values comes from: the inventory, the user's dask-jobqueue
configuration (:mod:`.config`), or clusterbench's fallback.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, ValidationError, model_validator

from clusterbench.errors import InventoryError
from clusterbench.inventory.model import Count, HostBase, Memory
from clusterbench.launchers.jobqueue.config import (
    CONFIG_KEYS,
    RENAMED,
    config_keys,
    config_source,
    config_value,
    section_problem,
)

#: clusterbench's own values when neither the inventory nor the config gives one.
FALLBACK: dict[str, Any] = {"cores": 1, "processes": 1, "memory": "1GB",
                            "walltime": "00:30:00"}
INVENTORY = "inventory"
DEFAULT = "clusterbench default"


def _quoted_walltime(value: Any) -> Any:
    """A number is refused: YAML reads an unquoted ``1:30:00`` as 5400 (base 60), which
    would be 5400 minutes to SLURM."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"got the number {value}: quote the walltime, e.g. '01:30:00' "
                         "(YAML reads an unquoted 1:30:00 as the number 5400)")
    return value


def _integer_as_text(value: Any) -> Any:
    """An account or queue written as a whole number (``account: 2023001``, as sites number
    their projects) is that text: dask-jobqueue writes it into the directive as is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


NameText = Annotated[str | None, BeforeValidator(_integer_as_text)]


class QueueHost(HostBase):
    """Workers started as batch jobs through dask-jobqueue.

    ``workers`` is derived: ``jobs × processes``; ``threads`` is
    ``cores // processes``.  The knobs map one-to-one onto dask-jobqueue's.
    ``launcher`` is the queue system (``slurm``, ``pbs``, ...): the registry hands
    only the names of queue launchers to this model.

    A knob the inventory leaves out is taken from dask's configuration
    (``jobqueue.<launcher>.<key>``), as dask-jobqueue's own clusters do, then from
    :data:`FALLBACK`; :meth:`effective` returns the host with every knob filled.
    """

    COUNT_FIELD: ClassVar[str] = "jobs"
    THREADS_FIELD: ClassVar[str] = "cores"
    DERIVED: ClassVar[frozenset[str]] = frozenset({"workers", "threads"})

    launcher: str
    jobs: Count = 1
    cores: Count | None = None
    processes: Count | None = None
    memory: Memory = None
    queue: NameText = None
    account: NameText = None
    walltime: Annotated[str | None, BeforeValidator(_quoted_walltime)] = None
    job_extra_directives: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    interface: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    submit_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 120.0
    #: The site's limit on submitted jobs (per user); ``up`` refuses more ``jobs``.
    max_jobs: Count | None = None
    workers: Count | Literal["auto"] = "auto"
    threads: Count | None = None  # type: ignore[assignment]
    _origins: dict[str, str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent_counts(self) -> QueueHost:
        if self.threads is not None:
            raise ValueError("a queue host's threads per worker are cores // processes: set "
                             "'cores' (and 'processes') instead of 'threads'")
        if self.processes is not None and self.processes > (self.cores or self.processes):
            raise ValueError(f"processes ({self.processes}) cannot exceed cores ({self.cores})")
        if (self.workers != "auto" and self.processes is not None
                and self.workers != self.jobs * self.processes):
            raise ValueError(
                f"workers ({self.workers}) must equal jobs × processes "
                f"({self.jobs} × {self.processes}); omit 'workers'"
            )
        return self

    def effective(self) -> QueueHost:
        """This host with every knob the inventory left out taken from dask's
        ``jobqueue.<launcher>`` configuration, else from :data:`FALLBACK`.

        Raises
        ------
        InventoryError
            A configured value is invalid (the message names where it came from).
        """
        if self._origins is not None:
            return self
        shape = section_problem(self.launcher)
        if shape:
            raise InventoryError(f"host {self.name!r}: {shape}")
        values = self.model_dump(exclude_unset=True)
        origins = {field: INVENTORY for field in CONFIG_KEYS if field in self.model_fields_set}
        for field, key in config_keys(self.launcher).items():
            if field in self.model_fields_set:
                continue
            value, old = config_value(self.launcher, key), None
            if value is None and key in RENAMED:  # an older dask-jobqueue's name of the key
                old = RENAMED[key]
                value = config_value(self.launcher, old)
            if value is not None:
                origin = config_source(self.launcher, old or key)
                values[field] = value
                origins[field] = f"{origin}: '{old}', renamed '{key}'" if old else origin
            elif field in FALLBACK:
                values[field], origins[field] = FALLBACK[field], DEFAULT
        try:
            resolved = type(self).model_validate(values)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            field = str(error["loc"][0]) if error["loc"] else ""
            said = f"field {field!r} ({origins.get(field, INVENTORY)}): " if field else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            # The field's own origin, or those of the knobs a rule names ("processes (2)
            # cannot exceed cores (1)"); every knob's would not fit one line.
            named = [] if field else [f"{name} {origin}" for name, origin in origins.items()
                                      if re.search(rf"\b{name}\b", message)]
            said_too = f" ({', '.join(named)})" if named else ""
            raise InventoryError(f"host {self.name!r}: {said}{message}{said_too}") from None
        resolved._origins = origins
        return resolved

    def origins(self) -> dict[str, str]:
        """``{field: where its value came from}`` for the knobs that have a value."""
        return dict(self.effective()._origins or {})

    @property
    def worker_count(self) -> int:
        host = self.effective()
        return host.jobs * (host.processes or 1)

    @property
    def threads_per_worker(self) -> int:
        host = self.effective()
        return max(1, (host.cores or 1) // (host.processes or 1))

    @property
    def worker_threads(self) -> int:
        return self.threads_per_worker


def host_sources(host: QueueHost) -> list[str]:
    """``FIELD VALUE (ORIGIN)`` lines for the knobs of *host* that have a value."""
    resolved = host.effective()
    lines = []
    for field, origin in resolved.origins().items():
        value = getattr(resolved, field)
        if value is None or value == ():
            continue
        shown = " ".join(value) if isinstance(value, tuple) else value
        if field == "memory" and isinstance(value, int):
            units = (("GiB", 2**30), ("GB", 10**9), ("MiB", 2**20), ("MB", 10**6))
            shown = next((f"{value // f}{u}" for u, f in units if value % f == 0), f"{value}B")
        lines.append(f"{field} {shown} ({origin})")
    return lines
