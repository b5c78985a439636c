"""Which workers really ran a repeat, and whether that is the set the point planned.

A point plans a worker set by *name* (``worker_names`` of its records).  Before
each repeat the names are resolved to the addresses the scheduler knows right
now, so a worker that a Nanny restarted on a new port is used again instead of
silently dropped, and every other worker of the cluster is *paused*
(:func:`activate`): the scheduler then sees exactly the point's k running
workers, as on a k-worker cluster, while nothing is restarted between
interleaved points.  Pausing rather than restricting tasks with ``workers=``
matters: distributed neither queues restricted tasks on the scheduler nor hands
them out as workers free up, so a restricted sweep over a fast and a slow host
gave the slow host its equal share up front and measured that, not dask.

The pause is the scheduler's own bookkeeping (``Scheduler.handle_worker_status_change``,
what a worker's "I am paused" message triggers), set in one call on the scheduler: a
paused worker is out of the scheduler's running, idle and saturated sets, so it gets
no task and steals none, exactly as if the worker had paused itself, and the workers
are not told.  Telling them was one broadcast to every worker whose status changed:
255 messages when a sweep went from its 256-worker point to its 1-worker point, 0.3 to
0.8 s of clusterbench's own time per repeat at 256 in-process workers.

The holds belong to the client that set them: when its connection to the scheduler ends
(the sweep SIGKILLed, its machine gone), the scheduler sets the held workers running again
by itself, so a killed sweep does not leave a cluster that takes no work.

After the repeat, the scheduler's task stream (one call, from a cursor taken
before the repeat) says on which workers the repeat's
tasks ran.  :func:`judge` compares the two: a repeat that ran on a different
set (a worker lost or restarted mid-repeat, a task outside the set, a planned
worker that ran nothing although there was work for all) is marked
``worker_set_changed`` and does not count in the point's statistics.

distributed has the pieces (task stream, worker names as aliases) but no
"which set ran this" check, hence this module.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clusterbench.errors import LaunchError

#: A planned worker that ran no task counts as "never used" only when the repeat had at
#: least this many tasks per planned worker: with fewer, dask may legitimately leave one idle.
UNUSED_MIN_TASKS_PER_WORKER = 2
RESOLVE_POLL_SECONDS = 0.1
#: How long :func:`release` waits for workers that paused themselves to run again.
RELEASE_SECONDS = 10.0
#: A worker whose last heartbeat is older than this is silent (it sends one every 0.5 s on
#: a small cluster): its link is cut, or its host is throttled to nearly nothing.
SILENT_SECONDS = 10.0


@dataclass(frozen=True)
class Execution:
    """Outcome of :func:`judge` for one repeat."""

    executed: tuple[str, ...]
    changed: bool
    note: str = ""
    tasks: int = 0


def current_workers(client: Any) -> dict[str, str]:
    """``{worker name: address}`` of the workers registered with the scheduler now."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return {str(info.get("name")): address for address, info in workers.items()}


def activate(client: Any, names: Sequence[str], timeout: float) -> dict[str, str]:
    """Resolve *names* (their addresses now, waiting up to *timeout* s for missing,
    restarting ones), set them running and pause every other worker on the scheduler.

    Only the workers whose status is wrong change, in one call on the scheduler whatever
    their number: a repeat of the point that ran last costs one scheduler call (to read
    the statuses), and no point costs a message per worker.  A planned worker paused by
    anything other than a sweep (its memory monitor) is told to run, and awaited.

    Raises
    ------
    LaunchError
        When a planned worker is lost, or a worker told to run does not within *timeout*.
    """
    planned, statuses = _resolve_statuses(client, names, timeout)
    chosen = set(planned.values())
    resume = [a for a in chosen if statuses[a] != "running"]
    pause = [a for a, status in statuses.items() if status == "running" and a not in chosen]
    if resume or pause:
        _hold(client, pause, resume, timeout)
    return planned


def _resolve_statuses(client: Any, names: Sequence[str], timeout: float
                      ) -> tuple[dict[str, str], dict[str, str]]:
    """``{name: address}`` of *names* and every worker's ``{address: status}``, from one
    scheduler call (polled while a name is missing, up to *timeout* s).

    Raises
    ------
    LaunchError
        Naming the workers that did not come back in time.
    """
    deadline = time.monotonic() + timeout
    while True:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        known = {str(info.get("name")): address for address, info in workers.items()}
        missing = [name for name in names if name not in known]
        if not missing:
            return ({name: known[name] for name in names},
                    {address: str(info.get("status")) for address, info in workers.items()})
        if time.monotonic() > deadline:
            raise LaunchError(f"worker(s) {', '.join(missing)} lost: not registered with the "
                              f"scheduler within {timeout:g} s")
        time.sleep(RESOLVE_POLL_SECONDS)


def _hold(client: Any, pause: list[str], resume: list[str], timeout: float) -> None:
    """Pause and resume on the scheduler (one call); resumed workers that paused
    themselves are told to run (one broadcast to them only) and awaited."""
    paused_themselves = client.run_on_scheduler(_scheduler_holds(), pause, resume, client.id)
    if paused_themselves:
        client.run(_set_running, workers=list(paused_themselves))
        _await_running(client, set(paused_themselves), timeout)


def _scheduler_holds() -> Any:
    """The function run on the scheduler by :func:`_hold`.

    Built in a closure so that cloudpickle sends it by value: the scheduler of a
    cluster clusterbench did not start (``--scheduler-address``) may not have
    clusterbench installed.

    The scheduler's status of a worker is then "paused" for two reasons, the worker's own
    (its memory monitor) and ours, and the worker only reports its own.  So the first
    call wraps the scheduler's ``worker-status-change`` stream handler: it records what
    each worker says of itself, and a worker held by us that says "running" (its memory
    monitor resuming) stays paused on the scheduler.  Resuming a held worker that paused
    itself meanwhile is left to the caller (returned): it is still paused in its process.

    The first call also adds a scheduler plugin that lets go of every hold when the
    client that set them (*owner*) leaves: a sweep killed with SIGKILL cannot call
    :func:`release`, and its cluster would otherwise give no worker but the last point's
    any task until the next sweep or ``down``.
    """

    def hold(pause: list[str], resume: list[str], owner: str,
             dask_scheduler: Any = None) -> list[str]:
        import time as clock

        state = dask_scheduler.__dict__.get("_clusterbench_holds") \
            or _install(dask_scheduler, clock)
        known = dask_scheduler.workers
        state["held"] &= set(known)  # an address gone is no longer ours
        stimulus = f"clusterbench-hold-{clock.time()}"
        for address in pause:
            if address in known:
                state["held"].add(address)
                state["owner"] = owner
                dask_scheduler.handle_worker_status_change("paused", address, stimulus)
        return state["let_go"](resume, stimulus)

    def _install(dask_scheduler: Any, clock: Any) -> dict[str, Any]:
        """First call on this scheduler: the hold state, the wrapped status handler and
        the plugin that lets go when the owner leaves."""
        from distributed.diagnostics.plugin import SchedulerPlugin

        state: dict[str, Any] = {"held": set(), "own": {}, "owner": None}

        def let_go(addresses: list[str], stimulus: str) -> list[str]:
            """Resume *addresses*; returns those that paused themselves (still paused)."""
            known, told = dask_scheduler.workers, []
            for address in addresses:
                if address not in known:
                    continue
                held = address in state["held"]
                state["held"].discard(address)
                # Not heard from since it registered: held means it was running then; not
                # held, the scheduler's status is its own.
                own = state["own"].get(address,
                                       "running" if held else known[address].status.name)
                if own == "running":
                    dask_scheduler.handle_worker_status_change("running", address, stimulus)
                else:
                    told.append(address)
            return told

        handler = dask_scheduler.stream_handlers["worker-status-change"]

        def status_change(status: Any, worker: str, stimulus_id: str) -> None:
            state["own"][worker] = getattr(status, "name", status)
            if worker in state["held"] and state["own"][worker] == "running":
                return
            handler(status=status, worker=worker, stimulus_id=stimulus_id)

        class ReleaseWhenOwnerLeaves(SchedulerPlugin):
            def remove_client(self, scheduler: Any, client: str) -> None:
                if client == state["owner"]:
                    let_go(sorted(state["held"]), f"clusterbench-owner-gone-{clock.time()}")

        state["let_go"] = let_go
        dask_scheduler.stream_handlers["worker-status-change"] = status_change
        dask_scheduler.add_plugin(ReleaseWhenOwnerLeaves(), name="clusterbench-holds")
        dask_scheduler._clusterbench_holds = state
        return state

    return hold


def release(client: Any) -> None:
    """Set every paused worker running again (the end of a sweep), in one scheduler call
    (and one broadcast to the workers that paused themselves, if any)."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    paused = [address for address, info in workers.items() if info.get("status") != "running"]
    if paused:
        _hold(client, [], paused, RELEASE_SECONDS)


def _await_running(client: Any, addresses: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        wrong = [a for a in addresses if a in workers and workers[a].get("status") != "running"]
        if not wrong:
            return
        if time.monotonic() > deadline:
            raise LaunchError(f"worker(s) {', '.join(wrong)} paused themselves and did not "
                              f"run again within {timeout:g} s")
        time.sleep(RESOLVE_POLL_SECONDS / 5)


def _set_running(dask_worker: Any = None) -> None:
    """On a worker that paused itself (its memory monitor): run again."""
    from distributed.core import Status

    if dask_worker.status == Status.paused:
        dask_worker.status = Status.running


def drop_silent(client: Any, silent: float = SILENT_SECONDS) -> str:
    """Take the workers that stopped sending heartbeats off the scheduler; says which.

    Called after a repeat ran past its deadline.  The scheduler itself keeps a silent worker
    for ``worker-ttl`` (5 minutes) and goes on handing it tasks (and pausing or resuming it
    never returns), so every later point would wait out its deadline too; removed, a worker
    that comes back registers again.  The clock is this machine's (lab hosts and the hosts
    of a real cluster run NTP).
    """
    now = time.time()
    workers = client.scheduler_info(n_workers=-1)["workers"]
    quiet = {address: now - float(info.get("last_seen", now))
             for address, info in workers.items()
             if now - float(info.get("last_seen", now)) > silent}
    for address in quiet:
        client.sync(client.scheduler.unregister, address=address, close=False,
                    stimulus_id=f"clusterbench-silent-{now}")
    return "; ".join(f"{workers[a].get('name')} sent no heartbeat for {s:.0f} s: taken off "
                     f"the scheduler" for a, s in quiet.items())


def task_cursor(client: Any) -> int:
    """Position in the scheduler's task stream (tasks finished so far)."""
    return int(client.sync(client.scheduler.get_task_stream_index))


def task_stream(client: Any, cursor: int) -> list[dict[str, Any]]:
    """The scheduler's task-stream entries of the tasks finished since *cursor* (one call)."""
    return list(client.sync(client.scheduler.get_task_stream, start_index=cursor))


def executed_addresses(client: Any, cursor: int) -> list[str]:
    """Worker address of every task that finished since *cursor* (one scheduler call)."""
    return addresses_of(task_stream(client, cursor))


def addresses_of(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Worker address of every task-stream entry (repeats allowed)."""
    return [str(entry.get("worker")) for entry in entries if entry.get("worker")]


def worker_activity(entries: Iterable[Mapping[str, Any]], names: Mapping[str, str]
                    ) -> dict[str, dict[str, float]]:
    """The straggler view of one repeat, per worker, from its task-stream entries (pure).

    Parameters
    ----------
    entries
        :func:`task_stream` of the repeat: each with ``worker`` and ``startstops``
        (``action``, ``start``, ``stop`` in seconds since the epoch).
    names
        ``{name: address}`` of the point's workers; the result is keyed by name
        (an address nobody planned is kept as is).

    Returns
    -------
    dict
        ``{name: {"tasks": n, "busy_s": compute seconds, "idle_end_s": seconds from the
        worker's last compute to the repeat's last}}``; a planned worker that ran nothing
        has ``tasks`` 0 and ``idle_end_s`` the repeat's whole span.
    """
    by_address = {address: name for name, address in names.items()}
    spans: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for entry in entries:
        worker = str(entry.get("worker") or "")
        computes = [(float(s["start"]), float(s["stop"])) for s in entry.get("startstops", ())
                    if s.get("action") == "compute"]
        if worker and computes:
            spans.setdefault(by_address.get(worker, worker), []).extend(computes)
    everything = [span for worker_spans in spans.values() for span in worker_spans]
    if not everything:
        return {}
    first = min(start for start, _ in everything)
    last = max(stop for _, stop in everything)
    return {name: {"tasks": len(worker_spans),
                   "busy_s": round(float(sum(stop - start for start, stop in worker_spans)), 4),
                   "idle_end_s": round(last - max((stop for _, stop in worker_spans),
                                                  default=first), 4)}
            for name, worker_spans in spans.items()}


def judge(planned: Mapping[str, str], after: Mapping[str, str],
          executed: Iterable[str]) -> Execution:
    """Compare the planned set with what ran.

    Parameters
    ----------
    planned
        ``{name: address}`` resolved just before the repeat.
    after
        ``{name: address}`` registered just after it.
    executed
        The worker address of every task the repeat ran (repeats allowed).

    Returns
    -------
    Execution
        ``executed`` holds the names (addresses when unknown) that ran at least one task.
    """
    tasks = list(executed)
    names_by_address = {address: name for name, address in [*after.items(), *planned.items()]}
    ran = sorted({names_by_address.get(address, address) for address in set(tasks)})
    problems = [f"{name} was lost or restarted during the repeat"
                for name, address in planned.items() if after.get(name) != address]
    # The sets once, not per task or per worker: that was O(tasks × workers).
    planned_addresses, used = set(planned.values()), set(tasks)
    outside = sorted(used - planned_addresses)
    if outside:
        labels = ", ".join(names_by_address.get(a, a) for a in outside)
        problems.append(f"tasks ran outside the planned set on {labels}")
    if len(tasks) >= UNUSED_MIN_TASKS_PER_WORKER * len(planned):
        idle = [name for name, address in planned.items() if address not in used]
        problems.extend(f"{name} ran none of the {len(tasks)} tasks" for name in idle)
    return Execution(tuple(ran), bool(problems), "; ".join(problems), len(tasks))
