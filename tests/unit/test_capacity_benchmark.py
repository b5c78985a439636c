"""The homogeneous-cost table of tests/benchmarks/capacity_placement.py, on synthetic rows."""

from __future__ import annotations

import pytest

from tests.benchmarks.capacity_placement import HOMOGENEOUS_GOAL, cost_rows, print_costs


def row(mode: str, workers: int, median: float, workload: str = "montecarlo") -> dict:
    return {"workload": workload, "mode": mode, "workers": workers, "median": median,
            "cv": 0.02}


def test_cost_pairs_the_two_modes_per_point_and_skips_a_lone_mode(capsys):
    rows = [row("distributed", 1, 2.0), row("distributed-capacity", 1, 2.04),
            row("distributed", 3, 1.0), row("distributed-capacity", 3, 0.9),
            row("distributed", 2, 1.5)]  # no distributed-capacity point to pair with
    costs = cost_rows(rows)
    assert [(c["workers"], round(c["cost"], 4)) for c in costs] == [(1, 0.02), (3, -0.1)]
    print_costs(costs)
    text = capsys.readouterr().out
    assert "| montecarlo | 1 | 2.00 | 2.04 | +2.0% |" in text
    assert "largest |cost| 10.0%" in text and "within the goal: 1 of 2" in text
    assert HOMOGENEOUS_GOAL == 0.03


def test_joblib_benchmark_summarises_hosts_and_catches_a_different_answer():
    from tests.benchmarks.joblib_placement import answers_agree, summary

    repeats = [{"seconds": s, "answer": 0.97,
                "activity": {"fast-0": {"tasks": 9, "busy_s": 2.0, "idle_end_s": 0.0},
                             "slow-0": {"tasks": t, "busy_s": 1.5, "idle_end_s": 0.5}}}
               for s, t in ((3.0, 2), (2.0, 3), (4.0, 4))]
    row = summary("forest", "default", repeats)
    assert row["median"] == 3.0 and row["hosts"]["slow-0"]["tasks"] == 3
    assert answers_agree([row, summary("forest", "fast alone", repeats)])
    other = summary("forest", "fast alone", [dict(repeats[0], answer=0.96)])
    assert not answers_agree([row, other])


def test_pooled_cost_is_the_geometric_mean_of_the_points_with_an_interval():
    from tests.benchmarks.capacity_placement import pooled_cost

    samples = {("montecarlo", 1, "distributed"): [2.0, 2.1, 1.9, 2.0, 2.05],
               ("montecarlo", 1, "distributed-capacity"): [2.2, 2.3, 2.1, 2.2, 2.25],
               ("montecarlo", 2, "distributed"): [1.0, 1.1, 0.9, 1.0, 1.05],
               ("montecarlo", 2, "distributed-capacity"): [1.0, 1.1, 0.9, 1.0, 1.05],
               ("montecarlo", 3, "distributed"): [0.7]}  # unpaired: left out
    pooled = pooled_cost(samples)
    assert pooled["points"] == 2
    assert pooled["cost"] == pytest.approx((2.2 / 2.0 * 1.0) ** 0.5 - 1)
    assert pooled["low"] <= pooled["cost"] <= pooled["high"]
    assert pooled["low"] > -0.1 and pooled["high"] < 0.2


def test_paired_cost_cancels_drift_that_the_pooled_medians_carry():
    from tests.benchmarks.capacity_placement import paired_cost

    # The machine slows down round by round (1x .. 2x); placement costs exactly 2 %.
    pairs = {("montecarlo", k, r): {"distributed": 1.0 + r / 10,
                                    "distributed-capacity": (1.0 + r / 10) * 1.02}
             for k in (1, 2) for r in range(11)}
    pairs[("montecarlo", 3, 0)] = {"distributed": 0.5}  # one mode only: left out
    paired = paired_cost(pairs)
    assert paired["pairs"] == 22
    assert paired["cost"] == pytest.approx(0.02)
    assert paired["low"] == pytest.approx(0.02) and paired["high"] == pytest.approx(0.02)
    assert paired_cost({("montecarlo", 1, 0): {"distributed": 1.0}})["pairs"] == 0
