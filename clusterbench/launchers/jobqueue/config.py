"""Where queue hosts' knobs come from in dask's configuration: ``jobqueue.<system>.*``
(``jobqueue.yaml``, ``DASK_CONFIG``, ``DASK_*`` variables, ``dask.config.set``), the old
names of renamed keys, dask-jobqueue's packaged defaults, and which file or variable set
each value (shown by ``inventory check`` and named in errors).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

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
           "worker-extra-args": "extra", "account": "project"}  # project: SLURM's and PBS's
#: Systems whose Job calls the account ``project`` (also in their config section).
PROJECT_SYSTEMS = ("sge", "lsf")


def config_keys(system: str) -> dict[str, str]:
    """:data:`CONFIG_KEYS` for *system* (``account`` is ``project`` for SGE and LSF)."""
    keys = dict(CONFIG_KEYS)
    if system in PROJECT_SYSTEMS:
        keys["account"] = "project"
    return keys


def config_value(system: str, key: str) -> Any:
    """``dask.config.get("jobqueue.<system>.<key>")``, else dask-jobqueue's packaged default
    (what its Job reads once it is imported); None when unset, null or empty."""
    import dask.config

    value = dask.config.get(f"jobqueue.{system}.{key}", None)
    if value is None:
        value = _packaged(system, key)
    if isinstance(value, dict) and system == "htcondor":  # its directives are a mapping;
        # elsewhere a mapping is refused by the model (it became `#SBATCH exclusive = True`)
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

    value = config_value(system, key)
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


def section_problem(system: str) -> str | None:
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
