"""One SpecCluster for a whole inventory, sized worker by worker.

:class:`InventoryCluster` adds two things to distributed's ``SpecCluster``:
choosing *which* workers run (the first k of the inventory, so a sweep adds
hosts in a known order), and readiness decided by the scheduler with a
deadline, turning every failure into one line that names the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from distributed.core import Status
from distributed.deploy.cluster import Cluster
from distributed.deploy.spec import SpecCluster

from clusterbench.cluster.spec import ClusterSpec, specs_for
from clusterbench.errors import ClusterbenchError, LaunchError
from clusterbench.launchers.base import WorkerSlot
from clusterbench.launchers.registry import launcher_of

#: How often a wait for registrations also looks at the workers' own processes (an
#: early exit fails at once); a local check, no round trip to the scheduler.
EXIT_CHECK_SECONDS = 0.1


@dataclass(frozen=True)
class ReadyWorker:
    """A registered worker: its inventory slot and the address the scheduler knows."""

    slot: WorkerSlot
    address: str


class InventoryCluster(SpecCluster):
    """A SpecCluster whose worker set is chosen from an inventory's ordered specs.

    Parameters
    ----------
    spec
        Built by :func:`clusterbench.cluster.spec.build_cluster_spec`.
    name
        Cluster name (shown on the dashboard).
    """

    def __init__(self, spec: ClusterSpec, name: str = "clusterbench", **kwargs: Any) -> None:
        self.inventory_spec = spec
        self.failures: dict[str, str] = {}
        kwargs.setdefault("silence_logs", logging.ERROR)
        kwargs.setdefault("asynchronous", True)
        # Set whenever the scheduler pushes a worker added or removed (wait_registered).
        self._roster_changed = asyncio.Event()
        super().__init__(scheduler=spec.scheduler, workers={}, name=name, **kwargs)

    async def _start(self) -> None:
        # SpecCluster wraps a failed scheduler start (a remote scheduler that could not
        # start) in "RuntimeError: Cluster failed to start"; our one-line error is the cause.
        try:
            await super()._start()
        except RuntimeError as exc:
            if isinstance(exc.__cause__, ClusterbenchError):
                raise exc.__cause__ from None
            raise

    def _update_worker_status(self, op: str, msg: Any) -> None:
        # SpecCluster closes the spec *of the same name* lost-worker-timeout (15 s) after
        # a worker leaves the scheduler.  We retire workers ourselves (use_workers), so when
        # a point re-started a worker of that name within 15 s, the timer closed the new,
        # not yet registered one and the point waited out its whole timeout.  A worker that
        # really dies is caught by wait_registered (exit_failure) instead.
        try:
            if op == "remove":
                Cluster._update_worker_status(self, op, msg)
                return
            super()._update_worker_status(op, msg)
        finally:
            self._roster_changed.set()

    async def use_workers(self, count: int, timeout: float = 120.0) -> list[ReadyWorker]:
        """Run exactly the first *count* workers of the inventory and wait until the
        scheduler has registered each of them (and no other)."""
        names = specs_for(self.inventory_spec, count)
        await self._set_specs(names)
        return await self.wait_registered(names, timeout)

    async def start_all(self, timeout: float, min_workers: int | None) -> list[ReadyWorker]:
        """Start every worker; drop failed hosts if at least *min_workers* registered.

        Raises
        ------
        LaunchError
            When fewer than *min_workers* (default: all) workers registered;
            everything started is stopped first.
        """
        names = list(self.inventory_spec.workers)
        wanted = min_workers or len(self.inventory_spec.slots)
        await self._set_specs(names)
        ready = await self.wait_registered(names, timeout, tolerate_failures=True)
        if len(ready) < wanted:
            raise LaunchError(self._failure_summary(len(ready), wanted))
        if self.failures:
            await self._set_specs([n for n in names if n not in self.failures])
        return ready

    async def _set_specs(self, names: list[str]) -> None:
        # `await self` is SpecCluster's public way to make its workers match worker_spec
        # (stop the extra ones, start the missing ones); it raises what a start raised.
        self.worker_spec = {name: self.inventory_spec.workers[name] for name in names}
        try:
            await self
        except ClusterbenchError:
            raise
        except Exception as exc:  # a Job whose submission failed raises from its start()
            failed = [n for n in names if n in self.workers and _start_failed(self.workers[n])]
            self.worker_spec = {n: s for n, s in self.worker_spec.items() if n not in failed}
            await self
            where = ", ".join(failed) or ", ".join(names)
            raise LaunchError(f"{where}: could not start: {_one_line(exc)}") from None

    async def wait_registered(
        self, names: list[str], timeout: float, tolerate_failures: bool = False
    ) -> list[ReadyWorker]:
        """Wait until the scheduler has registered the workers of spec *names*.

        Registration is pushed: the scheduler streams every worker added or removed to
        the cluster (distributed's ``subscribe_worker_status``), and this wakes on each
        message; one ``identity`` call confirms the final set.  A worker whose process
        exited (or never started) fails fast with its host, command, exit status and
        output tail.  With *tolerate_failures* the failed ones are recorded in
        :attr:`failures` and the rest returned.
        """
        expected = [slot for name in names for slot in self.inventory_spec.slots_of(name)]
        deadline = time.monotonic() + timeout
        while True:
            self._roster_changed.clear()
            self._collect_failures(names)
            live = [s for s in expected if s.spec_name not in self.failures]
            if self.failures and not tolerate_failures:
                raise LaunchError(next(iter(self.failures.values())))
            if _complete(await self._pushed(), expected, live):
                registered = await self._registered()  # the scheduler's word, not a copy
                if _complete(registered, expected, live):
                    return [ReadyWorker(slot, registered[slot.name]) for slot in live]
            if time.monotonic() > deadline:
                return await self._timed_out(expected, live, timeout, tolerate_failures)
            await _woken(self._roster_changed, EXIT_CHECK_SECONDS)

    async def _timed_out(self, expected: list[WorkerSlot], live: list[WorkerSlot],
                         timeout: float, tolerate_failures: bool) -> list[ReadyWorker]:
        """The registered part of *live* past the deadline (the rest recorded as failed),
        or LaunchError naming the missing workers."""
        registered = await self._registered()
        if _complete(registered, expected, live):  # there, though no message said so
            return [ReadyWorker(slot, registered[slot.name]) for slot in live]
        missing = [s.name for s in live if s.name not in registered]
        message = await asyncio.to_thread(self._timeout_message, missing, timeout)
        if not tolerate_failures:
            raise LaunchError(message)
        for slot in live:
            if slot.name in missing:
                self.failures[slot.spec_name] = message
        return [ReadyWorker(s, registered[s.name]) for s in live if s.name in registered]

    async def _pushed(self) -> dict[str, str]:
        """``{worker name: address}`` as the scheduler's pushed messages left it (asked
        of the scheduler when the stream has ended: then this wait polls)."""
        task = getattr(self, "_watch_worker_status_task", None)
        if task is None or task.done():
            return await self._registered()
        workers = self.scheduler_info.get("workers", {})
        return {str(w.get("name")): address for address, w in workers.items()}

    async def _registered(self) -> dict[str, str]:
        """``{worker name: address}`` as the scheduler sees it right now."""
        info = await self.scheduler_comm.identity()
        return {str(w["name"]): address for address, w in info["workers"].items()}

    def _collect_failures(self, names: list[str]) -> None:
        for name in names:
            worker = self.workers.get(name)
            failure = getattr(worker, "exit_failure", lambda: None)()
            if failure is not None and name not in self.failures:
                self.failures[name] = str(failure)

    def _timeout_message(self, missing: list[str], timeout: float) -> str:
        """Which workers are missing, and for queue jobs what the queue says of them
        (jobs running but never connected is dask-jobqueue#391's classic)."""
        queue = "; ".join(self._queue_details(missing, timeout))
        return (
            f"worker(s) {', '.join(missing)} did not register with the scheduler at "
            f"{self.scheduler_address} within {timeout:g} s"
            + (f" ({queue})" if queue else "")
            + "; check that their hosts can reach that address and port"
        )

    def _queue_details(self, missing: list[str], timeout: float) -> list[str]:
        """What each missing worker's launcher knows of its job (queues: the job's state)."""
        by_host: dict[str, list[str]] = {}
        for name in missing:
            slot = next(s for s in self.inventory_spec.slots if s.name == name)
            job_id = getattr(self.workers.get(slot.spec_name), "job_id", None)
            if job_id and job_id not in by_host.setdefault(slot.host, []):
                by_host[slot.host].append(job_id)
        details = []
        for host_name, job_ids in by_host.items():
            host = self.inventory_spec.host(host_name)
            detail = launcher_of(host).pending(host, job_ids, timeout) if job_ids else None
            if detail:
                details.append(detail)
        return details

    def _failure_summary(self, ready: int, wanted: int) -> str:
        reasons = "; ".join(f"{name}: {msg}" for name, msg in self.failures.items())
        return f"only {ready} of {wanted} required workers started: {reasons}"


def _complete(registered: dict[str, str], expected: list[WorkerSlot],
              live: list[WorkerSlot]) -> bool:
    """Every *live* slot is registered and no worker outside *expected* is."""
    others = set(registered) - {slot.name for slot in expected}
    return all(slot.name in registered for slot in live) and not others


async def _woken(event: asyncio.Event, seconds: float) -> None:
    """Return when *event* is set or after *seconds*, whichever comes first."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _start_failed(worker: Any) -> bool:
    return getattr(worker, "status", None) is not None and worker.status != Status.running


def _one_line(exc: BaseException) -> str:
    text = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text or type(exc).__name__
