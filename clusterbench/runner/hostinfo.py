"""What a host is and how much CPU it delivers: the fingerprint and the capacity kernel.

Two measurements, both taken where the work runs:

* :func:`fingerprint` runs *on a worker* (``client.run``) and describes its host:
  CPU, cores, the cgroup CPU quota and memory limit the worker really lives under,
  memory, OS, Python, package versions and BLAS.  dask itself reads only the
  root-level cgroup files, so a worker in a throttled cgroup (a container, a
  SLURM job, a lab "pi") looks like a full machine to it; here the process's own
  cgroup is found in ``/proc/self/cgroup`` and the hierarchy is walked up, because
  a limit on any ancestor applies too.
* :func:`rate_kernel` is the capacity measure: iterations per second of a fixed
  pure-Python kernel over at least ``min_seconds``.  A throughput over a second
  or more is what a CFS quota (enforced per 100 ms period) and shared cores show
  up in; a single short timing would land anywhere inside one period.

:func:`measure_workers` turns the kernel into a per-worker capacity on a running
cluster (each worker alone, then all together, so shared cores show), and
:func:`machine_capacity` into the ceiling k processes can reach on this machine.

Hand-written because no library measures either for dask: dask reports threads
and memory limits as configured, not what a worker's cgroup allows or delivers.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

__all__ = [
    "CGROUP_ROOT",
    "MIN_SECONDS",
    "cgroup_limits",
    "cpu_kernel",
    "fingerprint",
    "machine_capacity",
    "measure_workers",
    "rate_kernel",
]

#: Where cgroup hierarchies are mounted (v1: one directory per controller; v2: unified).
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
#: Seconds the capacity kernel runs per measurement: 10 CFS periods, so a quota is
#: measured as the fraction of a core it is, not as whichever period a short timing hit.
MIN_SECONDS = 1.0
#: Rounds of the per-worker measurement (cost: rounds × (most workers on a host + 1) s).
WORKER_ROUNDS = 2
#: Workers of one host measured alone, one after another: they share the host's cores, so
#: alone each gets the same machine and more samples only cost time (a host of 256 workers
#: took 2 × 256 s); the host's other workers get its best alone reading.
ALONE_SAMPLES = 4
#: Kernel iterations between clock reads: short enough that the overshoot past
#: ``min_seconds`` stays small even on a slow or throttled host (README, "Measured here").
CHUNK = 50_000
#: cgroup v1 writes "no limit" as a huge page-aligned number (2**63 - 4096 with 4 KiB
#: pages); anything this large is no limit.
UNLIMITED_BYTES = 2**62
PACKAGES = ("dask", "distributed", "numpy", "scikit-learn", "clusterbench")

Worker = tuple[str, str, str, int]  # address, name, host label, threads


# --- the kernel -------------------------------------------------------------------------------


def cpu_kernel(loops: int) -> int:
    """The fixed CPU kernel: integer arithmetic in pure Python (no memory traffic, no BLAS)."""
    total = 0
    for i in range(loops):
        total += i * i % 7
    return total


def rate_kernel(min_seconds: float = MIN_SECONDS) -> float:
    """Iterations per second of :func:`cpu_kernel`, run in chunks for at least *min_seconds*.

    Parameters
    ----------
    min_seconds
        Lower bound of the wall time measured (at least one chunk always runs).

    Returns
    -------
    float
        Kernel iterations per wall second: what this process got from its CPU share,
        including throttling by a CPU quota and cores shared with other processes.
    """
    loops = 0
    start = time.perf_counter()
    while True:
        cpu_kernel(CHUNK)
        loops += CHUNK
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return loops / elapsed


# --- per-worker capacity on a cluster --------------------------------------------------------


def measure_workers(
    client: Any,
    workers: Sequence[Worker],
    reference_rate: float,
    min_seconds: float = MIN_SECONDS,
    rounds: int = WORKER_ROUNDS,
) -> tuple[dict[str, dict[str, Any]], float]:
    """Capacity of every worker, alone and together, and one fingerprint per host.

    Alone phase: round i runs the kernel on the i-th worker of every host at once, so
    workers of one host never overlap while different hosts run concurrently; only the
    first ``ALONE_SAMPLES`` workers of a host run alone, the others get the host's best
    alone reading (``alone_measured`` false), so the cost is at most ``ALONE_SAMPLES`` ×
    *min_seconds* per round whatever the worker count.  Together phase: every worker at
    once, so workers that share cores show what they get under load.

    Parameters
    ----------
    client
        A ``distributed.Client`` connected to the workers.
    workers
        ``(address, name, host_label, threads)`` per worker; workers with the same
        host label share a host.
    reference_rate
        Kernel iterations/s that counts as capacity 1.0 (one process on the machine
        running clusterbench, from :func:`machine_capacity`).
    min_seconds
        Kernel seconds per measurement.
    rounds
        Both phases are repeated this often and each worker's best rate kept (one
        1-s reading of a local worker once came out 20 % low).

    Returns
    -------
    hosts, seconds
        The ``hosts`` mapping of environment.json (host label → ``fingerprint`` and
        ``workers``: name → address, threads, alone_rate, together_rate,
        capacity_alone, capacity) and the wall seconds the measurement took.
    """
    start = time.perf_counter()
    by_host: dict[str, list[Worker]] = {}
    for worker in workers:
        by_host.setdefault(worker[2], []).append(worker)
    if not by_host:
        return {}, 0.0
    alone: dict[str, float] = {}
    together: dict[str, float] = {}
    for _ in range(rounds):  # noise only ever slows a round down: keep each worker's best
        samples = [members[:ALONE_SAMPLES] for members in by_host.values()]
        for round_ in itertools.zip_longest(*samples):
            _keep_best(alone, _rates(client, [w for w in round_ if w is not None],
                                     min_seconds))
        _keep_best(together, _rates(client, workers, min_seconds))
    prints = client.run(fingerprint, workers=[members[0][0] for members in by_host.values()])
    hosts = {host: {"fingerprint": prints.get(members[0][0]),
                    "workers": _host_entries(members, alone, together, reference_rate)}
             for host, members in by_host.items()}
    return hosts, time.perf_counter() - start


def _host_entries(members: Sequence[Worker], alone: dict[str, float],
                  together: dict[str, float], reference: float) -> dict[str, dict[str, Any]]:
    """``{name: entry}`` of one host's workers; a worker not measured alone gets the best
    alone rate of its host's sampled workers (same cores, same machine)."""
    host_alone = max((alone[m[0]] for m in members if m[0] in alone), default=0.0)
    return {name: _worker_entry(address, threads, alone.get(address, host_alone),
                                together[address], reference) | {"alone_measured":
                                                                 address in alone}
            for address, name, _, threads in members}


def _keep_best(best: dict[str, float], rates: dict[str, float]) -> None:
    for address, rate in rates.items():
        best[address] = max(rate, best.get(address, 0.0))


def _rates(client: Any, workers: Sequence[Worker], min_seconds: float) -> dict[str, float]:
    """Run the kernel on each worker at once (pinned there); address → iterations/s."""
    futures = [client.submit(rate_kernel, min_seconds, workers=[w[0]], allow_other_workers=False,
                             pure=False) for w in workers]
    return {w[0]: rate for w, rate in zip(workers, client.gather(futures), strict=True)}


def _worker_entry(address: str, threads: int, alone: float, together: float,
                  reference: float) -> dict[str, Any]:
    # One kernel per worker even with several threads: the kernel holds the GIL, so
    # more threads would not add pure-Python capacity.  Alone on its host a worker is at
    # least as fast as beside its siblings, and noise only ever slows a round down: a lower
    # alone reading is noise (on a one-worker host both rounds ran in the same conditions).
    alone = max(alone, together)
    return {"address": address, "threads": threads, "alone_rate": alone,
            "together_rate": together, "capacity_alone": alone / reference,
            "capacity": together / reference}


# --- the ceiling of k processes on this machine ----------------------------------------------


def machine_capacity(max_processes: int, min_seconds: float = MIN_SECONDS,
                     rounds: int = 2) -> dict[str, Any]:
    """Throughput of k = 1..*max_processes* processes running the kernel at once, over one.

    Each round runs every k once (k interleaved, so drift in the machine's load hits all
    of them alike); per k the best round is kept, because noise on a shared machine
    only ever slows a round down and this is meant as a ceiling.

    Parameters
    ----------
    max_processes
        Largest k measured.
    min_seconds
        Kernel seconds per process and measurement.
    rounds
        Rounds over all k (cost: rounds × max_processes × *min_seconds*).

    Returns
    -------
    dict
        ``capacity`` (k → Σ rates of k processes / best 1-process rate; 1.0 for k = 1),
        ``rate`` (best 1-process iterations/s) and ``seconds`` (wall cost).
    """
    start = time.perf_counter()
    counts = range(1, max(1, max_processes) + 1)
    totals: dict[int, list[float]] = {k: [] for k in counts}
    with ProcessPoolExecutor(max(counts)) as pool:
        list(pool.map(rate_kernel, [0.0] * max(counts)))  # every process started before timing
        for _ in range(max(1, rounds)):
            for k in counts:
                totals[k].append(sum(pool.map(rate_kernel, [min_seconds] * k)))
    one = max(totals[1])
    capacity = {k: 1.0 if k == 1 else max(totals[k]) / one for k in counts}
    return {"capacity": capacity, "rate": one, "seconds": time.perf_counter() - start}


# --- fingerprint -----------------------------------------------------------------------------


def fingerprint() -> dict[str, Any]:
    """Describe the host this runs on, as the calling process sees it (run it on a worker).

    Never raises: whatever cannot be read is None.

    Returns
    -------
    dict
        hostname, cpu_model, logical_cores, usable_cores, cpu_quota (cores allowed by
        the cgroup, None = no limit), memory_limit_bytes (None = none),
        memory_total_bytes, arch, os, python, packages (name → version or None) and
        blas (threadpoolctl's BLAS entries; None without threadpoolctl).
    """
    limits = _safe(cgroup_limits) or {}
    return {
        "hostname": _safe(socket.gethostname),
        "cpu_model": _safe(_cpu_model),
        "logical_cores": _safe(os.cpu_count),
        "usable_cores": _safe(_usable_cores),
        "cpu_quota": limits.get("cpu_quota"),
        "memory_limit_bytes": limits.get("memory_limit_bytes"),
        "memory_total_bytes": _safe(_memory_total),
        "arch": _safe(platform.machine),
        "os": _safe(platform.platform),
        "python": _safe(platform.python_version),
        "packages": {name: _safe(_version, name) for name in PACKAGES},
        "blas": _safe(_blas),
    }


def _safe(function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except Exception:  # a fingerprint is best effort: unreadable means unknown
        return None


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    # x86 says "model name"; ARM boards (Raspberry Pi) say "Model" or "Hardware".
    try:
        fields = dict(line.split(":", 1) for line in cpuinfo.read_text().splitlines()
                      if ":" in line)
    except OSError:
        fields = {}
    fields = {key.strip().lower(): value.strip() for key, value in fields.items()}
    for key in ("model name", "model", "hardware", "cpu model", "processor"):
        if fields.get(key) and not fields[key].isdigit():
            return fields[key]
    return platform.processor() or platform.machine() or None


def _usable_cores() -> int | None:
    # Cores this process may run on (cpuset/taskset), as opposed to the machine's.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def _memory_total() -> int | None:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _blas() -> list[dict[str, Any]] | None:
    try:
        import threadpoolctl
    except ImportError:
        return None
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401 - threadpoolctl lists only BLAS libraries already loaded
    keys = ("internal_api", "version", "num_threads")
    return [{key: lib.get(key) for key in keys} for lib in threadpoolctl.threadpool_info()
            if lib.get("user_api") == "blas"]


# --- cgroup limits ---------------------------------------------------------------------------


def cgroup_limits(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> dict[str, Any]:
    """CPU quota (cores) and memory limit (bytes) of this process's cgroups, tightest wins.

    Reads cgroup v1 (``cpu.cfs_quota_us``/``cpu.cfs_period_us``, ``memory.limit_in_bytes``)
    and v2 (``cpu.max``, ``memory.max``) from the process's own cgroup up to the
    hierarchy's root, because a limit on a parent applies to every child.

    Parameters
    ----------
    root
        Where the hierarchies are mounted (tests point it at a fake tree).
    proc_cgroup
        The ``/proc/<pid>/cgroup`` file naming the process's cgroups.

    Returns
    -------
    dict
        ``cpu_quota`` (float cores or None) and ``memory_limit_bytes`` (int or None);
        None means no limit, or none readable.
    """
    v1, v2 = _membership(proc_cgroup)
    quotas = [_cpu_v1(d) for d in _chain(_v1_mount(root, "cpu"), v1.get("cpu"))]
    memory = [_memory_v1(d) for d in _chain(_v1_mount(root, "memory"), v1.get("memory"))]
    unified = _v2_mount(root)
    quotas += [_cpu_v2(d) for d in _chain(unified, v2)]
    memory += [_memory_v2(d) for d in _chain(unified, v2)]
    return {"cpu_quota": _tightest(quotas), "memory_limit_bytes": _tightest(memory)}


def _membership(proc_cgroup: Path) -> tuple[dict[str, str], str | None]:
    """``/proc/self/cgroup`` → (v1 controller → path, v2 path or None)."""
    v1: dict[str, str] = {}
    v2 = None
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return v1, v2
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and not controllers:
            v2 = path
        for name in controllers.split(","):
            v1[name] = path
    return v1, v2


def _v1_mount(root: Path, controller: str) -> Path | None:
    # Mounted alone (``cpu``) or co-mounted (``cpu,cpuacct``, often with a ``cpu`` symlink).
    exact = root / controller
    if exact.is_dir():
        return exact
    try:
        return next((d for d in sorted(root.iterdir())
                     if d.is_dir() and controller in d.name.split(",")), None)
    except OSError:
        return None


def _v2_mount(root: Path) -> Path | None:
    # Pure v2 mounts the unified tree at the root; hybrid systems at ``unified``.
    for candidate in (root, root / "unified"):
        if (candidate / "cgroup.controllers").exists():
            return candidate
    return None


def _chain(mount: Path | None, path: str | None) -> list[Path]:
    """The process's cgroup directory and every ancestor up to the mount, deepest first.

    Inside a container or cgroup namespace the mount's root *is* some cgroup further
    down the host's tree, so the path from ``/proc/self/cgroup`` may not exist below it
    as written: leading components are dropped until it does (the mount root at worst).
    """
    if mount is None or path is None:
        return []
    parts = [p for p in path.split("/") if p]
    start = next((mount.joinpath(*parts[i:]) for i in range(len(parts) + 1)
                  if mount.joinpath(*parts[i:]).is_dir()), mount)
    chain = [start]
    while chain[-1] != mount and mount in chain[-1].parents:
        chain.append(chain[-1].parent)
    return chain


def _read(directory: Path, name: str) -> str | None:
    try:
        return (directory / name).read_text().strip()
    except OSError:
        return None


def _number(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _cpu_v1(directory: Path) -> float | None:
    quota = _number(_read(directory, "cpu.cfs_quota_us"))
    period = _number(_read(directory, "cpu.cfs_period_us"))
    return quota / period if quota and period and quota > 0 and period > 0 else None


def _cpu_v2(directory: Path) -> float | None:
    fields = (_read(directory, "cpu.max") or "").split()
    quota = _number(fields[0]) if fields else None  # "max" → None
    period = _number(fields[1]) if len(fields) > 1 else 100_000
    return quota / period if quota and period and quota > 0 and period > 0 else None


def _memory_v1(directory: Path) -> int | None:
    return _limit(_number(_read(directory, "memory.limit_in_bytes")))


def _memory_v2(directory: Path) -> int | None:
    return _limit(_number(_read(directory, "memory.max")))  # "max" → None


def _limit(value: int | None) -> int | None:
    return value if value is not None and 0 < value < UNLIMITED_BYTES else None


def _tightest(values: list[Any]) -> Any:
    known = [v for v in values if v is not None]
    return min(known) if known else None
