"""What the daemon behind ``clusterbench up`` publishes: :class:`ClusterState`.

The daemon writes ``cluster-<name>.json`` in the state directory (see
:mod:`.lifecycle`) as the cluster starts and once it is ready, and its last word
``down-<name>.json`` (the same state plus ``leftovers``) when it stops.  ``status``,
``down`` and ``run --attach`` read them.  This module is the only one that turns
those files into objects and back.

Schema 1 is the format written before the ``schema`` key existed: a file without
``schema`` is read as schema 1; a file of a newer schema (a newer clusterbench) or
one that is not a state at all is refused with one line naming the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypedDict

from clusterbench import osutil
from clusterbench.errors import StateError

#: Optional fields added later (``teardown``) keep the version: files without them read as
#: before, and only the down file, which ``down`` reads leniently, carries ``teardown``.
SCHEMA_VERSION = 1
#: ``status`` values: claimed by ``up`` or workers starting / serving / gave up.
STARTING, READY, FAILED = "starting", "ready", "failed"


class WorkerRow(TypedDict):
    """A worker ``up`` started: inventory name and host, scheduler address, threads, memory."""

    name: str
    host: str
    address: str
    threads: int
    memory: int | None


class QueueJob(TypedDict):
    """A batch job: id, host and launcher, its spec name, the workers it registers, threads."""

    job: str
    host: str
    launcher: str
    spec: str
    workers: list[str]
    threads: int


class LeftOut(TypedDict):
    """A worker of a host ``up`` dropped at start (``min_workers``), and why."""

    name: str
    host: str
    reason: str


@dataclass(frozen=True)
class ClusterState:
    """One cluster as its daemon last described it.

    Attributes
    ----------
    cluster
        The inventory's cluster name (the file is ``cluster-<cluster>.json``).
    status
        ``starting`` (claimed by ``up``, or workers starting), ``ready`` or ``failed``.
    inventory
        Absolute path of the inventory ``up`` was given.
    groups, limit
        The hosts ``up --group/--limit`` selected of an Ansible inventory (``down`` and
        ``status`` read the inventory again with them).
    pid
        The daemon's PID (None until the daemon's first write).
    session
        Random token of this ``up``: names scratch directories and TLS files on hosts.
    security
        ``tls``, ``insecure`` or ``loopback`` (see :func:`.security.security_label`).
    tls_dir
        Local directory of the cluster's certificates (None: plain TCP).
    scheduler_ssh
        ``ssh`` arguments reaching a remote scheduler's host (dashboard tunnel), or None.
    address, dashboard
        Scheduler address and dashboard URL (None until the scheduler runs / no dashboard).
    error
        Why the cluster failed (``status`` ``failed``).
    workers
        The workers ``up`` started (:class:`WorkerRow`).
    queue_jobs
        Batch jobs submitted (:class:`QueueJob`), for ``status`` to ask the queues.
    failures
        Spec name -> reason, for hosts dropped under ``min_workers``.
    left_out
        The workers of those hosts (:class:`LeftOut`).
    local_pids
        PIDs of local workers, killed by ``down`` if the daemon could not stop them.
    leftovers
        Only in the down file: host -> processes found (and killed) after close;
        None when the daemon did not get to check.
    teardown
        Only in the down file: seconds the daemon's stop spent per step
        (``close_workers``, ``stop_scheduler``, ``leftover_sweep``); ``down --debug``
        prints them.  None in files written before it existed.
    schema
        Format version of the file (:data:`SCHEMA_VERSION`).
    """

    cluster: str
    status: str = STARTING
    inventory: str | None = None
    groups: tuple[str, ...] = ()
    limit: str | None = None
    pid: int | None = None
    session: str | None = None
    security: str | None = None
    tls_dir: str | None = None
    scheduler_ssh: str | None = None
    address: str | None = None
    dashboard: str | None = None
    error: str | None = None
    workers: tuple[WorkerRow, ...] = ()
    queue_jobs: tuple[QueueJob, ...] = ()
    failures: dict[str, str] = field(default_factory=dict)
    left_out: tuple[LeftOut, ...] = ()
    local_pids: tuple[int, ...] = ()
    leftovers: dict[str, list[str]] | None = None
    teardown: dict[str, float] | None = None
    schema: int = SCHEMA_VERSION

    def to_json(self) -> str:
        """The file's text (indented JSON, ``schema`` included)."""
        return json.dumps(asdict(self), indent=2, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "cluster state") -> ClusterState:
        """Parse a state file's text; *source* (the file) names it in errors.

        Raises
        ------
        StateError
            Not JSON, not a cluster state, or written by a newer clusterbench.
        """
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StateError(f"{source}: not a clusterbench cluster state (not JSON: {exc}); "
                             "remove it if no cluster runs") from None
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "cluster state") -> ClusterState:
        """:meth:`from_json` of already parsed JSON."""
        if not isinstance(data, dict) or not isinstance(data.get("cluster"), str):
            raise StateError(f"{source}: not a clusterbench cluster state (no cluster name); "
                             "remove it if no cluster runs")
        schema = data.get("schema", 1)  # files from before the field are schema 1
        if not isinstance(schema, int) or schema < 1:
            raise StateError(f"{source}: not a clusterbench cluster state (schema {schema!r}); "
                             "remove it if no cluster runs")
        if schema > SCHEMA_VERSION:
            raise StateError(f"{source}: cluster state schema {schema!r} is newer than this "
                             f"clusterbench reads ({SCHEMA_VERSION}); use the clusterbench "
                             "that started the cluster")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise StateError(f"{source}: not a clusterbench cluster state (unknown keys: "
                             f"{', '.join(unknown)}); remove it if no cluster runs")
        tuples = {k: tuple(data[k]) for k in _TUPLES if data.get(k) is not None}
        return cls(**(data | tuples | {"schema": SCHEMA_VERSION}))

    def load_inventory(self) -> Any:
        """The inventory ``up`` read (its ``--group``/``--limit`` selection applied).

        Raises
        ------
        ClusterbenchError
            No inventory recorded, or it no longer loads (moved, changed).
        """
        from clusterbench.inventory.load import load_inventory

        if not self.inventory:
            raise StateError(f"cluster {self.cluster!r}: no inventory recorded")
        return load_inventory(self.inventory, groups=self.groups, limit=self.limit)

    def __getitem__(self, key: str) -> Any:
        """``state["address"]``: read access for code written against the old dict state
        (``running_cluster()`` callers); new code uses the attributes."""
        if key not in _FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def with_(self, **changes: Any) -> ClusterState:
        """A copy with *changes* (``dataclasses.replace``)."""
        return replace(self, **changes)


_TUPLES = ("workers", "queue_jobs", "left_out", "local_pids", "groups")
_FIELDS = frozenset(f.name for f in fields(ClusterState))


def read(path: Path) -> ClusterState | None:
    """The state stored at *path*, or None when there is no such file.

    Raises
    ------
    StateError
        The file is not a state this clusterbench reads (see :meth:`ClusterState.from_json`).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"{path}: cannot read the cluster state ({exc.strerror})") from None
    return ClusterState.from_json(text, str(path))


def write(path: Path, state: ClusterState) -> None:
    """Replace *path* by *state* atomically (a reader never sees half a state)."""
    osutil.atomic_write(path, state.to_json())


def create(path: Path, state: ClusterState) -> bool:
    """Write *state* to *path* only if no file is there (False when one is)."""
    return osutil.create_exclusive(path, state.to_json())
