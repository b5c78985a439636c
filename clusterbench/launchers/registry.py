"""The registry of launchers: which module implements the inventory's ``launcher: NAME``.

A launcher (:class:`~clusterbench.launchers.base.Launcher`) becomes known by one of:

* a line in :data:`BUILTIN` (the ones that ship with clusterbench);
* an entry point in the ``clusterbench.launchers`` group (a package of your own);
* the ``CLUSTERBENCH_LAUNCHERS`` environment variable, ``name=module:attribute,...``
  (it reaches ``up``'s daemon process, which a call in the parent does not);
* :func:`register_launcher` in this process.

The inventory's host union and every list of launcher names are derived from here.
"""

from __future__ import annotations

import functools
import importlib
import os
from importlib import metadata
from typing import TYPE_CHECKING, Any

from clusterbench.errors import InventoryError
from clusterbench.launchers.base import Launcher

if TYPE_CHECKING:
    from clusterbench.inventory.model import HostBase

#: The launchers that ship with clusterbench: name -> "module:attribute".  Imported lazily
#: so that ``clusterbench --help`` does not import asyncssh or dask-jobqueue.
BUILTIN: dict[str, str] = {
    "local": "clusterbench.launchers.local:LAUNCHER",
    "ssh": "clusterbench.launchers.ssh:LAUNCHER",
    "slurm": "clusterbench.launchers.jobqueue:SLURM",
    "pbs": "clusterbench.launchers.jobqueue:PBS",
    "sge": "clusterbench.launchers.jobqueue:SGE",
    "lsf": "clusterbench.launchers.jobqueue:LSF",
    "htcondor": "clusterbench.launchers.jobqueue:HTCONDOR",
}
#: The launcher of a host that names none.
DEFAULT_LAUNCHER = "local"
ENTRY_POINT_GROUP = "clusterbench.launchers"
ENV_VAR = "CLUSTERBENCH_LAUNCHERS"
_REGISTERED: dict[str, Any] = {}  # register_launcher(): name -> "module:attr" or object


def register_launcher(name: str, target: str | Launcher) -> None:
    """Make *target* (a :class:`Launcher` or ``"module:attribute"``) the launcher *name*
    in this process; for ``up``'s daemon too, use :data:`ENV_VAR` instead."""
    _REGISTERED[name] = target


def unregister_launcher(name: str) -> None:
    """Undo :func:`register_launcher` (tests)."""
    _REGISTERED.pop(name, None)


def launcher_names() -> tuple[str, ...]:
    """Every known launcher name: built-in first, then plug-ins."""
    return tuple(_targets())


def launcher_for(name: str) -> Launcher:
    """The launcher called *name* (imported on first use).

    Raises
    ------
    InventoryError
        No launcher has that name, or its plug-in cannot be imported.
    """
    targets = _targets()
    if name not in targets:
        from clusterbench.suggest import did_you_mean

        names = list(targets)
        raise InventoryError(f"unknown launcher {name!r}; valid: {', '.join(names)}"
                             f"{did_you_mean(name, names)}")
    target = targets[name]
    return target if isinstance(target, Launcher) else _load(name, target)


def launcher_of(host: Any) -> Launcher:
    """The launcher of an inventory host."""
    return launcher_for(host.launcher)


def host_model(name: str) -> type[HostBase]:
    """The host model of the launcher *name*."""
    return launcher_for(name).host_model


def _targets() -> dict[str, Any]:
    """name -> target, later sources overriding earlier ones (a plug-in may replace a
    built-in on purpose)."""
    targets: dict[str, Any] = dict(BUILTIN) | _entry_points()
    for item in filter(None, os.environ.get(ENV_VAR, "").split(",")):
        name, sep, target = item.partition("=")
        if not sep or ":" not in target:
            raise InventoryError(f"{ENV_VAR}: {item.strip()!r} is not name=module:attribute")
        targets[name.strip()] = target.strip()
    return targets | _REGISTERED


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, str]:
    return {entry.name: entry.value for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)}


@functools.cache
def _load(name: str, target: str) -> Launcher:
    module, _, attribute = target.partition(":")
    try:
        launcher = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise InventoryError(f"launcher {name!r}: cannot load {target!r} ({exc})") from None
    if not isinstance(launcher, Launcher):
        raise InventoryError(f"launcher {name!r}: {target!r} is not a "
                             "clusterbench.launchers.base.Launcher")
    return launcher
