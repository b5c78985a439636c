"""Sweep planning: a scenario × a worker maximum → the ordered list of points."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clusterbench.runner.modes import BLOCKS_ONLY_MODES, JOBLIB_ONLY_MODES
from clusterbench.runner.scenario import Scenario, WorkloadChoice, expand_workers


@dataclass(frozen=True)
class Point:
    """One sweep point: a workload at a size, under one scheduler, with k workers."""

    workload: WorkloadChoice
    scheduler: str
    workers: int

    @property
    def label(self) -> str:
        """``montecarlo[tiny] processes×2`` — for progress bars and messages."""
        return f"{self.workload.name}[{self.workload.size}] {self.scheduler}×{self.workers}"


def plan_points(
    scenario: Scenario,
    max_workers: int,
    interfaces: Mapping[str, str] | None = None,
    limits: Mapping[str, int] | None = None,
) -> list[Point]:
    """Points in execution order: per workload, the serial reference first, then every
    mode at ascending worker counts (ascending so a cluster only ever grows).

    Parameters
    ----------
    scenario
        The narrowed scenario.
    max_workers
        What ``max`` means in the scenario's worker counts.
    interfaces
        Workload name → ``"dask"``/``"blocks"``/``"joblib"``; joblib-only modes are
        planned for joblib workloads only, blocks-only modes (``distributed-capacity``)
        for block workloads only (unknown names count as ``"dask"``).
    limits
        Mode → most workers it has (e.g. ``local-distributed`` on a small machine
        under a large inventory); wider counts are clamped to it.
    """
    counts = expand_workers(scenario.workers, max_workers, scenario.source)
    interfaces, limits = interfaces or {}, limits or {}
    points: list[Point] = []
    for choice in scenario.workloads:
        for mode in _reference_first(scenario.schedulers):
            if mode in JOBLIB_ONLY_MODES and interfaces.get(choice.name) != "joblib":
                continue
            if mode in BLOCKS_ONLY_MODES and interfaces.get(choice.name) != "blocks":
                continue
            sweep = (1,) if mode == "synchronous" else _clamp(counts, limits.get(mode))
            points.extend(Point(choice, mode, k) for k in sweep)
    return points


def _clamp(counts: tuple[int, ...], limit: int | None) -> tuple[int, ...]:
    if limit is None:
        return counts
    return tuple(sorted({min(k, limit) for k in counts}))


def _reference_first(schedulers: tuple[str, ...]) -> list[str]:
    return sorted(schedulers, key=lambda s: s != "synchronous")


def shuffled_round(points: Sequence[Point], seed: int, round_index: int) -> list[Point]:
    """The order of *points* in interleaved round *round_index*: a shuffle seeded by the run's
    seed and the round, so a run's order is reproducible and recorded (asv / pyperf style)."""
    order = list(points)
    random.Random(f"{seed}/{round_index}").shuffle(order)
    return order
