"""Calibration at the start of a run: per-task overhead per mode, worker round trips,
per-worker capacity and fingerprints, and this machine's capacity for k processes.

The facts every later number is read against:

* **per-task overhead** (seconds per empty task) of each mode, measured with
  the point's own machinery (pool or cluster).  Workloads size their tasks
  from it (:meth:`ExecutionContext.min_task_seconds`) and the report warns
  about points whose tasks were too small for it.
* **round trip** scheduler → worker → scheduler per host of the distributed
  cluster (``client.run`` of an empty function), which shows slow links.
* **machine capacity**: the speedup k processes *can* reach on this machine,
  as the throughput of k processes running a fixed pure-Python kernel at once
  over that of one (:func:`~clusterbench.runner.hostinfo.machine_capacity`).
  Each process runs ≥ ``CAPACITY_SECONDS`` (a CPU quota is enforced per 100 ms, and
  a single short kernel read far below what the workloads reached: README, "Measured here"),
  k interleaved over ``CAPACITY_CHECK_ROUNDS`` rounds, best round kept: it is a
  ceiling.  The sweep repeats the check in the middle and at the end
  (:func:`capacity_check`), so the report can give a range.
* **per-worker capacity and fingerprint** of every distributed cluster
  (:func:`~clusterbench.runner.hostinfo.measure_workers`): each worker runs the
  kernel alone (workers of different hosts concurrently, to keep it cheap), then
  all at once, so shared cores and cgroup quotas show; capacity 1.0 is one
  process on this machine.  The fingerprint is collected on the worker itself,
  because only there are its cgroup limits, CPU and package versions visible.

Hand-written because no library measures these for dask; each measurement
repeats a few rounds and keeps the best, as timeit advises for noisy machines.
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from clusterbench.runner import workerset
from clusterbench.runner.hostinfo import (
    MIN_SECONDS,
    cpu_kernel,
    fingerprint,
    machine_capacity,
    measure_workers,
)
from clusterbench.runner.modes import DISTRIBUTED_MODES, ExecutionContext, open_mode

__all__ = ["Calibration", "calibrate", "capacity_check", "cpu_kernel",
           "round_trips", "task_overhead", "worker_speed"]

#: Empty tasks per overhead round: large enough to average out the timer, small enough that
#: graph-size effects (overhead grows with graph size in dask 2026.8) stay at workload scale.
OVERHEAD_TASKS = 200
ROUNDS = 3
#: Kernel seconds per process and measurement, for the machine and the workers: ten CFS
#: periods, so a CPU quota is measured as the share of a core it is.
CAPACITY_SECONDS = MIN_SECONDS
#: Rounds of the machine capacity check (cost: rounds × k processes × CAPACITY_SECONDS):
#: noise on a shared machine only ever slows a round down, so the best round is kept.
CAPACITY_CHECK_ROUNDS = 2
#: Longest wait for the scheduler to see a point's workers running and the others paused.
ACTIVATE_SECONDS = 60.0
#: Work unit of ``kernel_seconds`` (seconds one process needs for this many iterations),
#: kept so that runs stay comparable with those before the rate-based capacity.
CAPACITY_LOOPS = 3_000_000
#: Workers per host whose round trip is timed (the link is the host's, not the worker's).
ROUND_TRIP_SAMPLES = 3
#: Iterations of the per-worker speed kernel for ``order: fastest-first``: a fraction of a
#: second per worker (README, "Measured here").
SPEED_LOOPS = 1_000_000


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` measured; stored under ``calibration`` in environment.json.

    ``task_overhead`` maps mode → seconds per empty task; ``round_trip`` maps
    host → seconds of a scheduler↔worker round trip (median over its workers);
    ``capacity`` maps k → speedup of k processes of the fixed kernel over one (the
    start check); ``kernel_seconds`` is what one process needs for ``CAPACITY_LOOPS``
    kernel iterations; ``worker_speed`` maps worker name → seconds of the speed
    kernel when the scenario's order is ``fastest-first``; ``capacity_checks`` holds
    the machine capacity checks (:func:`capacity_check`, JSON-ready);
    ``reference_rate`` is the 1-process kernel rate (iterations/s) that counts as
    capacity 1.0; ``hosts`` maps host label → fingerprint and per-worker capacity
    (:func:`~clusterbench.runner.hostinfo.measure_workers`);
    ``worker_calibration_seconds`` is the wall time the per-worker part cost.
    """

    task_overhead: dict[str, float] = field(default_factory=dict)
    overhead_workers: dict[str, int] = field(default_factory=dict)
    round_trip: dict[str, float] = field(default_factory=dict)
    capacity: dict[int, float] = field(default_factory=dict)
    kernel_seconds: float = float("nan")
    worker_speed: dict[str, float] = field(default_factory=dict)
    capacity_checks: list[dict[str, Any]] = field(default_factory=list)
    reference_rate: float = float("nan")
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    worker_calibration_seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """JSON-ready mapping (capacity keys become strings)."""
        data = asdict(self)
        data["capacity"] = {str(k): v for k, v in self.capacity.items()}
        data["overhead_tasks"] = OVERHEAD_TASKS
        return data


def calibrate(
    workers: Mapping[str, int],
    backends: Mapping[str, Any],
    blas_threads: int | None = 1,
    listener: Callable[[str], None] = lambda message: None,
) -> Calibration:
    """Measure overhead per mode, round trips, machine capacity and every worker's capacity.

    Cost beyond the overheads: the machine check (``CAPACITY_CHECK_ROUNDS`` × k processes ×
    ``CAPACITY_SECONDS``) and per distinct cluster (most workers on one host + 1) ×
    ``CAPACITY_SECONDS``, every worker of the cluster started.

    Parameters
    ----------
    workers
        The run's modes, each with its widest worker count: the overhead is measured
        at that width.
    backends
        Mode → cluster backend (:mod:`clusterbench.runner.backends`) for distributed modes.
    blas_threads
        As in the scenario.
    listener
        Called with a short description before each measurement (progress).

    Returns
    -------
    Calibration
    """
    overhead: dict[str, float] = {}
    widths: dict[str, int] = {}
    trips: dict[str, float] = {}
    for mode, width in workers.items():
        listener(f"calibrating {mode}")
        width = max(1, width)
        options: dict[str, Any] = {"blas_threads": blas_threads}
        if mode in DISTRIBUTED_MODES:
            point = backends[mode].workers_for(width)
            workerset.activate(backends[mode].client, point.names, ACTIVATE_SECONDS)
            options |= {"client": backends[mode].client, "worker_addresses": point.addresses,
                        "threads_per_worker": point.threads}
            trips |= round_trips(backends[mode].client, point.addresses)
        with open_mode(mode, width, **options) as ctx:
            overhead[mode] = task_overhead(ctx)
        widths[mode] = width
    listener("calibrating process capacity")
    # k processes as wide as the widest local mode: distributed points use the workers'
    # own capacity, and a k beyond the cores still needs its (saturated) capacity.
    local = max((w for m, w in workers.items() if m not in DISTRIBUTED_MODES), default=1)
    start = capacity_check("start", max(1, local))
    for backend in {id(b): b for m, b in backends.items() if m in DISTRIBUTED_MODES}.values():
        workerset.release(backend.client)  # the per-worker kernel runs on every worker
    hosts, worker_seconds = worker_capacity(
        [backends[mode] for mode in workers if mode in DISTRIBUTED_MODES], start["rate"], listener
    )
    speeds = {name: seconds for backend in backends.values()
              for name, seconds in backend.worker_speed.items()}
    return Calibration(
        overhead, widths, trips, capacity={int(k): v for k, v in start["capacity"].items()},
        kernel_seconds=CAPACITY_LOOPS / start["rate"], worker_speed=speeds,
        capacity_checks=[start], reference_rate=start["rate"], hosts=hosts,
        worker_calibration_seconds=worker_seconds,
    )


def capacity_check(at: str, max_processes: int) -> dict[str, Any]:
    """Measure this machine's capacity for 1..*max_processes* processes once more.

    Parameters
    ----------
    at
        When in the sweep: ``"start"``, ``"middle"`` or ``"end"``.
    max_processes
        Largest process count measured (the run's widest local point, at most the cores).

    Returns
    -------
    dict
        One ``capacity_checks`` entry, JSON-ready: ``at``, ``capacity`` (``"k"`` → speedup
        of k processes over one), ``rate`` (1-process kernel iterations/s) and ``seconds``
        (wall cost, about rounds × k × ``CAPACITY_SECONDS``).
    """
    result = machine_capacity(max_processes, CAPACITY_SECONDS, CAPACITY_CHECK_ROUNDS)
    return {"at": at, "capacity": {str(k): v for k, v in result["capacity"].items()},
            "rate": result["rate"], "seconds": result["seconds"]}


def worker_capacity(backends: Iterable[Any], reference_rate: float,
                    listener: Callable[[str], None] = lambda message: None,
                    ) -> tuple[dict[str, dict[str, Any]], float]:
    """Fingerprint and per-worker capacity of every worker of every distinct cluster.

    Parameters
    ----------
    backends
        Cluster backends of the run's distributed modes (one object may serve several
        modes; it is measured once).  None: this machine's fingerprint alone.
    reference_rate
        Kernel iterations/s of capacity 1.0 (the machine's 1-process rate).
    listener
        Progress callback.

    Returns
    -------
    hosts, seconds
        The merged ``hosts`` mapping and the wall seconds the measurements cost.
    """
    distinct = list({id(backend): backend for backend in backends}.values())
    if not distinct:
        return {socket.gethostname(): {"fingerprint": fingerprint(), "workers": {}}}, 0.0
    hosts: dict[str, dict[str, Any]] = {}
    total = 0.0
    for backend in distinct:
        listener("calibrating worker capacity")
        point = backend.workers_for(backend.max_workers)
        measured, seconds = measure_workers(
            backend.client,
            [(a, n, h, point.threads) for a, n, h in zip(point.addresses, point.names,
                                                         point.hosts, strict=True)],
            reference_rate, CAPACITY_SECONDS,
        )
        total += seconds
        for host, entry in measured.items():  # two clusters may share a host label
            hosts.setdefault(host, {"fingerprint": entry["fingerprint"], "workers": {}})
            hosts[host]["workers"] |= entry["workers"]
    return hosts, total


def task_overhead(ctx: ExecutionContext, tasks: int = OVERHEAD_TASKS, rounds: int = ROUNDS
                  ) -> float:
    """Seconds per empty task under *ctx* (best of *rounds*), submission to result."""
    import dask

    best = float("inf")
    for _ in range(rounds):
        graph = [dask.delayed(_empty, pure=False)(i) for i in range(tasks)]
        start = time.perf_counter()
        ctx.compute(*graph)
        best = min(best, time.perf_counter() - start)
    ctx.reset_counters()
    return best / tasks


def round_trips(client: Any, addresses: Iterable[str], rounds: int = 5,
                samples: int = ROUND_TRIP_SAMPLES) -> dict[str, float]:
    """Seconds of one ``client.run`` round trip per host (median of its workers' best).

    A round trip is a property of the link to a host, not of each worker: the first
    *samples* workers of each host are timed, each step pinging one worker of every host
    at once (one timer per host), so the cost is ``rounds × samples`` round trips whatever
    the number of workers and hosts (it was one sequential round trip per worker and
    round: 1,280 of them at 256 workers).
    """
    info = client.scheduler_info(n_workers=-1)["workers"]
    by_host: dict[str, list[str]] = {}
    for address in addresses:
        by_host.setdefault(str(info.get(address, {}).get("host", address)), []).append(address)
    sampled = {host: members[:samples] for host, members in by_host.items()}
    best: dict[str, float] = {}
    for _ in range(rounds):
        for index in range(samples):
            step = [members[index] for members in sampled.values() if index < len(members)]
            for address, seconds in client.sync(_ping_each, client, step).items():
                best[address] = min(seconds, best.get(address, float("inf")))
    return {host: statistics.median(best[a] for a in members)
            for host, members in sampled.items()}


async def _ping_each(client: Any, addresses: list[str]) -> dict[str, float]:
    """Time one empty ``run`` on each of *addresses*, all concurrently (one per host)."""
    import asyncio

    async def ping(address: str) -> float:
        start = time.perf_counter()
        await client._run(_empty, 0, workers=[address])
        return time.perf_counter() - start

    seconds = await asyncio.gather(*(ping(address) for address in addresses))
    return dict(zip(addresses, seconds, strict=True))


def worker_speed(client: Any, addresses: list[str], names: list[str],
                 rounds: int = ROUNDS, loops: int = SPEED_LOOPS) -> dict[str, float]:
    """Seconds each worker takes for the fixed CPU kernel (best of *rounds*, all at once).

    Timed on the worker itself, so network latency does not count: this ranks CPU speed
    (including a host's cgroup quota and what else shares its cores).
    """
    best = dict.fromkeys(names, float("inf"))
    for _ in range(rounds):
        futures = [client.submit(_timed_kernel, loops, workers=[address], pure=False,
                                 allow_other_workers=False) for address in addresses]
        for name, seconds in zip(names, client.gather(futures), strict=True):
            best[name] = min(best[name], seconds)
    return best


def _timed_kernel(loops: int) -> float:
    start = time.perf_counter()
    cpu_kernel(loops)
    return time.perf_counter() - start


def _empty(value: int) -> int:
    return value
