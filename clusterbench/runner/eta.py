"""How long a sweep will take: a first estimate before any point runs, then the rest.

rich's own ``TimeRemainingColumn`` divides the remaining *count* of items by their recent
rate.  A sweep's items are not alike (a serial montecarlo repeat costs twice a 2-worker one,
a point's first repeat also pays its warm-up, a workload's first point its serial
reference) and the interleaved order mixes them, so that estimate swings and says nothing
before the first item.  Here each item has a weight in estimated seconds and the measured
pace (elapsed ÷ weight done) scales what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from clusterbench.runner.plan import Point

#: Weight of one serial run of a workload that states no reference time: only the weights'
#: ratios matter once items complete, and before that no seconds are claimed.
UNKNOWN = 1.0


def point_cost(point: Point, serial: float) -> float:
    """Estimated seconds of one timed repeat: the serial time spread over the workers
    (the naive ideal: the first estimate is a floor, the measured pace corrects it)."""
    return serial / max(point.workers, 1)


@dataclass
class SweepEstimate:
    """The remaining time of a sweep of *points*.

    Parameters
    ----------
    points
        The planned points.
    repeats, warmup
        Timed repeats per point and untimed warm-up runs when a point opens.
    serial
        Workload name → its estimated serial seconds at the point's size, or None when the
        workload states none (:attr:`Workload.reference_seconds`).
    fixed
        Seconds that do not scale with the work (capacity re-checks in the middle and at
        the end of the run).
    clock
        Seconds now (tests pass a fake clock).
    """

    points: Iterable[Point]
    repeats: int
    warmup: int
    serial: Mapping[str, float | None]
    fixed: float = 0.0
    clock: Callable[[], float] = time.monotonic
    _done: float = 0.0
    _opened: set[Point] = field(default_factory=set)
    _prepared: set[str] = field(default_factory=set)
    _started: float = 0.0

    def __post_init__(self) -> None:
        self.points = list(self.points)
        self._total = sum(self._first(p) + (self.repeats - 1) * self._cost(p)
                          for p in self.points) + sum(self._reference(w) for w in self._names())
        self._started = self.clock()

    @property
    def known(self) -> bool:
        """Whether every workload stated a reference time (the first figure is seconds)."""
        return all(self.serial.get(name) is not None for name in self._names())

    def first(self) -> float | None:
        """Seconds the whole sweep should take, before any item ran (None: unknown)."""
        return self._total + self.fixed if self.known else None

    def done(self, point: Point) -> None:
        """One timed repeat of *point* finished (with its warm-up and serial reference the
        first time)."""
        if point.workload.name not in self._prepared:
            self._prepared.add(point.workload.name)
            self._done += self._reference(point.workload.name)
        self._done += self._first(point) if point not in self._opened else self._cost(point)
        self._opened.add(point)

    def extra(self, point: Point) -> None:
        """A retry or stabilizing repeat of *point* was added to the plan."""
        self._total += self._cost(point)

    def remaining(self) -> float | None:
        """Seconds left: the weight left at the pace measured so far (the first estimate
        before any item finished; None if that is unknown)."""
        left = max(self._total - self._done, 0.0)
        if self._done <= 0:
            return left + self.fixed if self.known else None
        pace = (self.clock() - self._started) / self._done
        return left * pace + self.fixed * (left / self._total if self._total else 0.0)

    def _names(self) -> set[str]:
        return {p.workload.name for p in self.points}

    def _reference(self, name: str) -> float:
        value = self.serial.get(name)
        return UNKNOWN if value is None else value

    def _cost(self, point: Point) -> float:
        return point_cost(point, self._reference(point.workload.name))

    def _first(self, point: Point) -> float:
        return (1 + self.warmup) * self._cost(point)


def clock_text(seconds: float | None) -> str:
    """``2:05`` / ``1:02:05``; ``?`` for unknown."""
    if seconds is None:
        return "?"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
