"""The inventory model of queue hosts (pure pydantic; one model for every queue system),
and where each of its values comes from: the inventory, the user's dask-jobqueue
configuration (``jobqueue.<system>.*``: ``jobqueue.yaml``, ``DASK_CONFIG``, ``DASK_*``
variables), or clusterbench's fallback.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, ValidationError, model_validator

from clusterbench.errors import InventoryError
from clusterbench.inventory.model import Count, HostBase, Memory

#: Inventory field -> key under ``jobqueue.<system>`` in dask's configuration.
CONFIG_KEYS = {
    "cores": "cores", "memory": "memory", "processes": "processes", "queue": "queue",
    "account": "account", "walltime": "walltime",
    "job_extra_directives": "job-extra-directives",
    "job_script_prologue": "job-script-prologue", "interface": "interface",
    "local_directory": "local-directory", "log_directory": "log-directory",
    "python": "python", "worker_extra_args": "worker-extra-args",
}
#: Keys dask-jobqueue renamed, new -> old.  Its Job still honours the old one only when the
#: new one is empty, and clusterbench always passes ``job_script_prologue`` (the BLAS
#: exports), so an old ``env-extra`` (``module load ...``) was silently dropped.
RENAMED = {"job-script-prologue": "env-extra", "job-extra-directives": "job-extra",
           "worker-extra-args": "extra"}
#: Systems whose Job calls the account ``project`` (also in their config section).
PROJECT_SYSTEMS = ("sge", "lsf")
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
    queue: str | None = None
    account: str | None = None
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
        shape = _section_problem(self.launcher)
        if shape:
            raise InventoryError(f"host {self.name!r}: {shape}")
        values = self.model_dump(exclude_unset=True)
        origins = {field: INVENTORY for field in CONFIG_KEYS if field in self.model_fields_set}
        for field, key in config_keys(self.launcher).items():
            if field in self.model_fields_set:
                continue
            value, old = _config_value(self.launcher, key), None
            if value is None and key in RENAMED:  # an older dask-jobqueue's name of the key
                old = RENAMED[key]
                value = _config_value(self.launcher, old)
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


def config_keys(system: str) -> dict[str, str]:
    """:data:`CONFIG_KEYS` for *system* (``account`` is ``project`` for SGE and LSF)."""
    keys = dict(CONFIG_KEYS)
    if system in PROJECT_SYSTEMS:
        keys["account"] = "project"
    return keys


def _config_value(system: str, key: str) -> Any:
    """``dask.config.get("jobqueue.<system>.<key>")``, else dask-jobqueue's packaged default
    (what its Job reads once it is imported); None when unset, null or empty."""
    import dask.config

    value = dask.config.get(f"jobqueue.{system}.{key}", None)
    if value is None:
        value = _packaged(system, key)
    if isinstance(value, dict):  # HTCondor's directives are a mapping in its config
        value = [f"{k} = {v}" for k, v in value.items()]
    if value is None or value == [] or value == "":
        return None
    return value


@functools.lru_cache(maxsize=64)
def _yaml_file(path: str, mtime_ns: int, size: int) -> Any:
    """One of dask's config files, parsed once while unchanged (the key has its mtime and
    size): :func:`config_source` asks for every knob of every queue host (800 hosts: 22 s
    of ``inventory check``, nearly all re-parsing).  Callers only read the result."""
    import yaml

    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def config_source(system: str, key: str) -> str:
    """Where dask's configuration got ``jobqueue.<system>.<key>``: a ``DASK_…`` variable,
    the last YAML file of dask's search path that sets it, or ``dask config`` (set in
    the process, e.g. ``dask.config.set``)."""
    wanted = {_norm(name) for name in os.environ if name.startswith("DASK_")}
    variable = f"DASK_JOBQUEUE__{system}__{key}"
    if _norm(variable) in wanted:
        return f"env {variable.upper().replace('-', '_')}"
    import dask.config

    value = _config_value(system, key)
    if dask.config.get(f"jobqueue.{system}.{key}", None) is None:
        return "dask-jobqueue default"
    found = _file_setting(("jobqueue", system, key), value)
    if found:
        return f"dask config {found}"
    return "dask-jobqueue default" if _same(_packaged(system, key), value) else "dask config"


def _file_setting(parts: tuple[str, ...], value: Any) -> str | None:
    """The last of dask's config files (in its search order) that sets *parts* to *value*,
    or None (set by a variable, in the process, or by a package's defaults)."""
    import dask.config
    import yaml

    found = None
    for directory in dask.config.paths:
        for path in _yaml_files(Path(directory)):
            try:
                stat = path.stat()
                item = _at(_yaml_file(str(path), stat.st_mtime_ns, stat.st_size), parts)
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            if item is not None and _same(item, value):
                found = str(path)
    return found


def _at(data: Any, parts: tuple[str, ...]) -> Any:
    """``data[parts[0]][parts[1]]...`` with dask's key normalisation; None if absent."""
    for part in parts:
        if not isinstance(data, dict):
            return None
        data = next((v for k, v in data.items() if _norm(str(k)) == _norm(part)), None)
    return data


def _section_problem(system: str) -> str | None:
    """What is wrong with the shape of dask's ``jobqueue`` or ``jobqueue.<system>`` setting
    (one line naming where it was set), or None.

    ``dask.config.get`` answers a lookup through a value that is not a mapping with the
    default, so ``jobqueue: {slurm: "cores: 4"}`` (a YAML indentation slip) would leave
    every setting of that file unused without a word.
    """
    import dask.config

    for parts in (("jobqueue",), ("jobqueue", system)):
        key = ".".join(parts)
        value = dask.config.get(key, None)
        if value is None or isinstance(value, dict):
            continue
        variable = "DASK_" + "__".join(parts).upper()
        where = (f"env {variable}" if variable in os.environ
                 else f"dask config {_file_setting(parts, value) or '(set in the process)'}")
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return (f"{where}: '{key}' must be a mapping of settings, "
                f"got {type(value).__name__} {shown}")
    return None


@functools.cache
def _packaged_defaults() -> dict[str, Any]:
    """dask-jobqueue's own ``jobqueue.yaml`` (read without importing the package)."""
    import importlib.util

    import yaml

    spec = importlib.util.find_spec("dask_jobqueue")
    for directory in (spec.submodule_search_locations or []) if spec else []:
        try:
            return yaml.safe_load((Path(directory) / "jobqueue.yaml").read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
    return {}


def _packaged(system: str, key: str) -> Any:
    section = _packaged_defaults().get("jobqueue", {}).get(system) or {}
    return section.get(key)


def _yaml_files(directory: Path) -> list[Path]:
    if directory.is_file():
        return [directory]
    try:
        return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    except OSError:
        return []


def _norm(name: str) -> str:
    return name.lower().replace("-", "_")


def _same(item: Any, value: Any) -> bool:
    if isinstance(item, dict):
        item = [f"{k} = {v}" for k, v in item.items()]
    return bool(item == value)


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
