"""Sweep planning: a scenario × a worker maximum → the ordered list of points."""

from __future__ import annotations

from dataclasses import dataclass

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


def plan_points(scenario: Scenario, max_workers: int) -> list[Point]:
    """Points in execution order: per workload, the serial reference first, then every
    scheduler at ascending worker counts (ascending so a cluster only ever grows)."""
    counts = expand_workers(scenario.workers, max_workers, scenario.source)
    points = []
    for choice in scenario.workloads:
        for scheduler in _reference_first(scenario.schedulers):
            sweep = (1,) if scheduler == "synchronous" else counts
            points.extend(Point(choice, scheduler, k) for k in sweep)
    return points


def _reference_first(schedulers: tuple[str, ...]) -> list[str]:
    return sorted(schedulers, key=lambda s: s != "synchronous")
