"""Capacity of a worker set and of this machine, read from ``environment.json``.

The capacity unit is one process of the fixed calibration kernel on the machine running
clusterbench (``calibration.reference_rate``).  Two sources:

* ``hosts.<label>.workers.<name>``: each worker's capacity alone on its host
  (``capacity_alone``) and with every worker running at once (``capacity``).  Workers of
  one host share its cores, so a host gives at most what all of its workers got together:
  ``H(S ∩ h) = min(Σ capacity_alone, Σ_{w ∈ h} capacity)`` and ``C(S) = Σ_h H(S ∩ h)``.
* ``calibration.capacity_checks``: throughput of k processes over one, measured at the
  start, middle and end of the sweep.  The ceiling is the *best* check (noise on a shared
  machine only ever slows a check down); the spread is reported as a range.

Anything unknown is NaN, never an exception: a report must redraw from any old run.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Schedulers running k local threads or processes: their ideal is the machine's capacity.
LOCAL_POOL_MODES = frozenset({"threads", "processes"})
SERIAL_MODE = "synchronous"
#: A local cluster runs its workers as processes on this machine.
LOCAL_CLUSTER_MODE = "local-distributed"


@dataclass(frozen=True)
class WorkerCapacity:
    """One worker's measured capacity (NaN when not measured)."""

    host: str
    alone: float
    together: float


@dataclass(frozen=True)
class CapacityModel:
    """Capacities of workers (per host) and of k processes on this machine.

    Build it with :meth:`from_environment`; an empty model answers NaN (except for the
    trivial capacities: 1 process, the serial mode).
    """

    workers: Mapping[str, WorkerCapacity] = field(default_factory=dict)
    checks: Sequence[Mapping[int, float]] = ()
    check_labels: Sequence[str] = ()

    @classmethod
    def from_environment(cls, environment: Mapping[str, Any] | None) -> CapacityModel:
        """Read ``hosts`` and ``calibration`` of an ``environment.json`` dict.

        Parameters
        ----------
        environment
            The run's environment (``None`` or ``{}`` for a run without one).

        Returns
        -------
        CapacityModel
            Malformed or missing entries are skipped (they read as NaN later).
        """
        environment = environment or {}
        calibration = environment.get("calibration") or {}
        checks = machine_checks(calibration.get("capacity"), calibration.get("capacity_checks"))
        return cls(workers=_workers(environment.get("hosts")),
                   checks=[capacity for _, capacity in checks],
                   check_labels=[label for label, _ in checks])

    def of_set(self, names: Iterable[str]) -> float:
        """``C(S)``: capacity of the worker set *names* (NaN if any worker is unknown).

        Parameters
        ----------
        names
            Worker names of the set (duplicates count once).

        Returns
        -------
        float
            ``Σ_h min(Σ_{w ∈ S ∩ h} capacity_alone(w), Σ_{w ∈ h} capacity(w))``.
        """
        chosen = set(names)
        if not chosen or not chosen <= self.workers.keys():
            return math.nan
        together = self._together
        return sum(_saturated(alone, together[host])
                   for host, alone in self._alone_by_host(chosen).items())

    def shares(self, names: Sequence[str]) -> list[float]:
        """Each worker's part of ``C(S)`` for the set *names*, in that order (NaN if unknown).

        A host's capacity ``H(S ∩ h)`` is divided among its workers of the set in
        proportion to their capacity alone, so the shares add up to :meth:`of_set`.
        """
        if not names or not set(names) <= self.workers.keys():
            return [math.nan] * len(names)
        alone = self._alone_by_host(set(names))
        shares = []
        for name in names:
            host = self.workers[name].host
            part = self.workers[name].alone / alone[host] if alone[host] > 0 else math.nan
            shares.append(_saturated(alone[host], self._together[host]) * part)
        return shares

    def _alone_by_host(self, chosen: set[str]) -> dict[str, float]:
        """``Σ capacity_alone`` of the *chosen* workers per host (one pass: O(workers))."""
        alone: dict[str, float] = {}
        for name in chosen:
            worker = self.workers[name]
            alone[worker.host] = alone.get(worker.host, 0.0) + worker.alone
        return alone

    @functools.cached_property
    def _together(self) -> dict[str, float]:
        """``Σ capacity`` of every worker per host, computed once: summing it per worker
        of a set made :meth:`shares` quadratic in the workers."""
        together: dict[str, float] = {}
        for worker in self.workers.values():
            together[worker.host] = together.get(worker.host, 0.0) + worker.together
        return together

    def machine(self, k: int) -> float:
        """Machine capacity of *k* processes: the best of the capacity checks (a ceiling).

        Parameters
        ----------
        k
            Number of processes.

        Returns
        -------
        float
            1.0 for ``k == 1``; NaN when no check measured *k*.
        """
        return self.range(k)[1]

    def range(self, k: int) -> tuple[float, float]:
        """``(lowest, highest)`` machine capacity of *k* processes over the checks.

        Parameters
        ----------
        k
            Number of processes.

        Returns
        -------
        tuple of float
            ``(1.0, 1.0)`` for ``k == 1``; ``(nan, nan)`` when *k* was never measured.
        """
        if int(k) == 1:
            return 1.0, 1.0
        values = [check[int(k)] for check in self.checks if int(k) in check]
        values = [v for v in values if math.isfinite(v)]
        return (min(values), max(values)) if values else (math.nan, math.nan)

    def by_check(self, k: int) -> dict[str, float]:
        """Capacity of *k* processes per check label (``start``, ``middle``, ``end``)."""
        return {label: check[int(k)] for label, check in zip(self.check_labels, self.checks,
                                                             strict=True) if int(k) in check}

    def ideal(self, scheduler: str, workers: int, names: Sequence[str],
              reference_names: Sequence[str]) -> float:
        """Capacity-weighted ideal speedup of a point over its curve's 1-worker point.

        Parameters
        ----------
        scheduler
            The point's mode.
        workers
            Its worker count k.
        names, reference_names
            Planned worker names of the point and of the curve's 1-worker point.

        Returns
        -------
        float
            ``1.0`` for the serial mode and at one worker; ``capacity(k) / capacity(1)`` of
            the machine for threads and processes; ``C(S_k) / C(S_1)`` for distributed
            modes (a local cluster falls back to the machine's capacity when its workers
            were not calibrated); NaN when unknown.
        """
        if scheduler == SERIAL_MODE or int(workers) == 1:
            return 1.0
        if scheduler in LOCAL_POOL_MODES:
            return self.machine(workers)
        ratio = self.of_set(names) / self.of_set(reference_names)
        if math.isnan(ratio) and scheduler == LOCAL_CLUSTER_MODE:
            return self.machine(workers)
        return ratio

    @property
    def known(self) -> bool:
        """Whether anything beyond the trivial capacities was measured."""
        return bool(self.workers) or any(len(check) > 1 for check in self.checks)


def machine_checks(capacity: Mapping[str, Any] | None,
                   checks: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, dict]]:
    """The machine-capacity measurements of a calibration, as ``(label, {k: capacity})``.

    Parameters
    ----------
    capacity
        ``calibration.capacity`` (the start check; the only one before schema 2).
    checks
        ``calibration.capacity_checks`` (start, middle, end), when recorded.

    Returns
    -------
    list
        The checks when there are any, else the start capacity labelled ``start``.
    """
    parsed = [(str(check.get("at", f"check {i + 1}")), _by_k(check.get("capacity")))
              for i, check in enumerate(checks or []) if isinstance(check, Mapping)]
    parsed = [(label, values) for label, values in parsed if values]
    if parsed:
        return parsed
    start = _by_k(capacity)
    return [("start", start)] if start else []


def _saturated(alone: float, together: float) -> float:
    """A host's share: its workers' alone capacities until its cores saturate."""
    # min() would silently drop a NaN; an unknown capacity must stay unknown.
    if math.isnan(alone) or math.isnan(together):
        return math.nan
    return min(alone, together)


def _by_k(capacity: Any) -> dict[int, float]:
    if not isinstance(capacity, Mapping):
        return {}
    result = {}
    for key, value in capacity.items():
        try:
            result[int(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return result


def _workers(hosts: Any) -> dict[str, WorkerCapacity]:
    """Worker name → capacity, from ``environment["hosts"]``."""
    if not isinstance(hosts, Mapping):
        return {}
    workers = {}
    for label, host in hosts.items():
        entries = host.get("workers") if isinstance(host, Mapping) else None
        for name, entry in (entries or {}).items():
            if isinstance(entry, Mapping):
                workers[str(name)] = WorkerCapacity(str(label), _number(entry, "capacity_alone"),
                                                    _number(entry, "capacity"))
    return workers


def _number(entry: Mapping[str, Any], key: str) -> float:
    try:
        value = float(entry[key])
    except (KeyError, TypeError, ValueError):  # missing, None or not a number
        return math.nan
    return value if value >= 0 else math.nan
