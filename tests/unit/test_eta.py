"""The sweep's time estimate (clusterbench.runner.eta): pure arithmetic on a fake clock."""

from __future__ import annotations

import pytest

from clusterbench.runner.eta import SweepEstimate, clock_text, point_cost
from clusterbench.runner.plan import Point
from clusterbench.runner.scenario import WorkloadChoice

MC = WorkloadChoice("montecarlo", "quick")
RF = WorkloadChoice("randomforest", "quick")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def points() -> list[Point]:
    return [Point(MC, "synchronous", 1), Point(MC, "processes", 2),
            Point(RF, "synchronous", 1), Point(RF, "processes", 2)]


def test_first_estimate_counts_repeats_warmups_references_and_fixed_time() -> None:
    estimate = SweepEstimate(points(), repeats=2, warmup=1,
                             serial={"montecarlo": 2.0, "randomforest": 4.0}, fixed=5.0)
    # montecarlo: reference 2 + ×1 (1 warm-up + 2 repeats) 3×2 + ×2 3×1 = 11
    # randomforest: reference 4 + 3×4 + 3×2 = 22
    assert estimate.first() == pytest.approx(11 + 22 + 5)
    assert estimate.remaining() == pytest.approx(38)


def test_the_measured_pace_scales_what_is_left() -> None:
    clock = Clock()
    estimate = SweepEstimate(points(), repeats=2, warmup=1,
                             serial={"montecarlo": 2.0, "randomforest": 4.0}, clock=clock)
    first = points()[0]
    clock.now += 8.0  # reference 2 + warm-up 2 + repeat 2 = 6 estimated s took 8 s
    estimate.done(first)
    assert estimate.remaining() == pytest.approx((33 - 6) * 8 / 6)
    clock.now += 4.0  # the second repeat of the same point: no warm-up, no reference
    estimate.done(first)
    assert estimate.remaining() == pytest.approx((33 - 8) * 12 / 8)


def test_extra_repeats_add_to_the_plan() -> None:
    estimate = SweepEstimate(points(), repeats=1, warmup=0,
                             serial={"montecarlo": 2.0, "randomforest": 4.0})
    before = estimate.first()
    estimate.extra(points()[1])
    assert estimate.first() == pytest.approx(before + point_cost(points()[1], 2.0))


def test_a_workload_without_reference_time_has_no_first_figure_but_a_pace_later() -> None:
    clock = Clock()
    estimate = SweepEstimate(points(), repeats=2, warmup=0,
                             serial={"montecarlo": 2.0, "randomforest": None}, clock=clock)
    assert estimate.first() is None and estimate.remaining() is None
    clock.now += 3.0
    estimate.done(points()[2])
    assert estimate.remaining() is not None and estimate.remaining() > 0


def test_nothing_left_once_every_repeat_is_done() -> None:
    clock = Clock()
    estimate = SweepEstimate(points(), repeats=2, warmup=1,
                             serial={"montecarlo": 2.0, "randomforest": 4.0}, fixed=5.0,
                             clock=clock)
    for point in points():
        for _ in range(2):
            clock.now += 1.0
            estimate.done(point)
    assert estimate.remaining() == pytest.approx(0.0)


@pytest.mark.parametrize(("seconds", "text"), [(None, "?"), (0, "0:00"), (59.6, "1:00"),
                                               (125, "2:05"), (3725, "1:02:05")])
def test_clock_text(seconds: float | None, text: str) -> None:
    assert clock_text(seconds) == text
