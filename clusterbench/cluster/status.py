"""What ``up`` and ``status`` show per worker: the scheduler's view joined with the queue's.

The daemon records in the state file every batch job it submitted
(``queue_jobs``: job id, host, launcher, the worker names the job registers).
:func:`query_queues` asks each host's launcher about those jobs (squeue, qstat,
bjobs ... for the queue launchers), and the pure
:func:`worker_rows` joins that answer with the workers the scheduler has
registered.  A job the queue lists but whose worker is not registered (still
pending, or running but never connected) gets a row of its own, so pending
jobs are visible while ``up`` waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clusterbench.cluster.state import ClusterState, QueueJob
from clusterbench.errors import ClusterbenchError
from clusterbench.launchers.base import JobState
from clusterbench.launchers.registry import launcher_for

# Queue-state column for a job the queue no longer lists (ended, failed, cancelled).
GONE = "left the queue"
UNKNOWN = "?"
#: Status of a worker `up` started that the scheduler does not know any more.
LOST = "lost"
#: Status of a worker of a host `up` dropped at start (``min_workers``), before its reason.
LEFT_OUT = "left out"


def query_queues(state: ClusterState) -> tuple[dict[str, JobState], list[str]]:
    """Ask each queue system about the jobs of *state* (blocking, one call per host).

    Parameters
    ----------
    state
        A cluster's state (``queue_jobs`` as the daemon wrote it).

    Returns
    -------
    states, notes
        ``{job_id: JobState}`` for the jobs the queues still list, and one line per
        host whose queue could not be asked (its jobs then show ``?``).
    """
    by_host: dict[tuple[str, str], list[str]] = {}
    for job in state.queue_jobs:
        by_host.setdefault((job["host"], job["launcher"]), []).append(str(job["job"]))
    states: dict[str, JobState] = {}
    notes: list[str] = []
    for (host, kind), ids in by_host.items():
        try:
            states.update(launcher_for(kind).job_state(host, ids))
        except ClusterbenchError as exc:
            notes.append(f"{host}: queue state unknown: {exc}")
            states.update({job: JobState(UNKNOWN, "", "") for job in ids})
    return states, notes


def query_logs(state: ClusterState, registered: Iterable[str] = ()
               ) -> dict[str, tuple[str, list[str]]]:
    """``{job_id: (log file, its last lines)}`` of *state*'s batch jobs whose workers are
    not all *registered* and that wrote output, from each launcher that keeps job logs
    (:meth:`~clusterbench.launchers.base.Launcher.job_log_tails`: the queue launchers).

    The inventory `up` read gives each host's ``log_directory``; without it (moved,
    changed) the default directory of the cluster's session is searched.
    """
    names = set(registered)
    jobs = [job for job in state.queue_jobs if not set(job["workers"]) <= names]
    hosts: dict[str, Any] = {}
    if state.inventory and jobs:
        try:
            hosts = {host.name: host for host in state.load_inventory().hosts}
        except ClusterbenchError:
            hosts = {}
    by_host: dict[tuple[str, str], list[str]] = {}
    for job in jobs:
        by_host.setdefault((job["host"], job["launcher"]), []).append(str(job["job"]))
    logs: dict[str, tuple[str, list[str]]] = {}
    for (host, kind), ids in by_host.items():
        try:
            logs.update(launcher_for(kind).job_log_tails(hosts.get(host, host), ids,
                                                         state.cluster, state.session))
        except (ClusterbenchError, OSError):
            continue  # a log is a hint: status still shows the queue's answer
    return logs


def worker_rows(
    state: ClusterState, registered: Iterable[dict[str, Any]], queue: dict[str, JobState],
    logs: dict[str, tuple[str, list[str]]] | None = None,
) -> list[dict[str, Any]]:
    """One row per registered worker, plus one per expected queue worker not registered.

    Pure.  Parameters: the cluster's state (``queue_jobs``, ``workers``, ``left_out``), the
    registered workers (``name``, ``host``, ``address``, ``threads``, ``memory``), and
    :func:`query_queues`'s states.  Rows of queue workers add ``job``, ``node`` and
    ``queue_state`` (``RUNNING``, ``PENDING (Resources)``, ``left the queue``);
    rows of local/SSH workers have ``job`` None.  A worker `up` started (``workers``)
    that is not registered any more is ``lost``; the workers of hosts `up` dropped at
    start (``left_out``) are ``left out: <reason>``.  A queue worker that is not registered
    (failed, never connected) names its job's ``log`` and its last lines (``log_tail``), from
    :func:`query_logs`'s *logs*; with *logs*, every other row has ``log`` None.

    Returns
    -------
    list of dict
        Registered workers first (in the given order), then the missing queue workers in job
        order, the lost workers and the left-out ones.
    """
    job_of = {name: job for job in state.queue_jobs for name in job["workers"]}
    rows = []
    seen = set()
    for worker in registered:
        job = job_of.get(str(worker["name"]))
        rows.append(worker | _queue_columns(job, queue))
        seen.add(str(worker["name"]))
    for name, job in job_of.items():
        if name not in seen:
            row = {"name": name, "host": job["host"], "address": "-", "threads": job.get("threads"),
                   "memory": None, "status": "not registered"}
            rows.append(row | _queue_columns(job, queue))
    missing = [w for w in state.workers
               if str(w["name"]) not in seen and str(w["name"]) not in job_of]
    rows += [{"name": w["name"], "host": w["host"], "address": "-", "threads": w.get("threads"),
              "memory": None, "status": LOST} | _queue_columns(None, queue) for w in missing]
    rows += [{"name": w["name"], "host": w["host"], "address": "-", "threads": None,
              "memory": None, "status": f"{LEFT_OUT}: {_short(w['reason'])}"}
             | _queue_columns(None, queue) for w in state.left_out]
    for row in rows if logs is not None else []:
        job_id = str(row["job"]) if row["job"] and row["name"] not in seen else ""
        row["log"], row["log_tail"] = (logs or {}).get(job_id) or (None, [])
    return rows


def _short(reason: str) -> str:
    """A start failure without the (long) command line: ``exited 127: <its output>``."""
    head, _, tail = reason.partition("' exited ")
    return f"exited {tail}" if tail else reason


def _queue_columns(job: QueueJob | None, queue: dict[str, JobState]) -> dict[str, Any]:
    """``job``/``node``/``queue_state`` of a row; all None for a worker that is no job."""
    if job is None:
        return {"job": None, "node": None, "queue_state": None}
    job_id = str(job["job"])
    found = queue.get(job_id)
    if found is None:
        return {"job": job_id, "node": None, "queue_state": GONE}
    text = found.state + (f" ({found.reason})" if found.reason else "")
    return {"job": job_id, "node": found.node or None, "queue_state": text}
