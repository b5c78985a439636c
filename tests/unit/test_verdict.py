"""The verdict sentence per curve: capacity reached, fit, where it stops paying off."""

from __future__ import annotations

import math

import pytest

from clusterbench.analysis.fits import amdahl_speedup, scaling_fits
from clusterbench.analysis.speedup import summarize
from clusterbench.analysis.verdict import verdicts
from clusterbench.results.record import Record

#: k processes on this machine are worth exactly k: capacity ideal = naive ideal.
LINEAR = {"calibration": {"capacity": {str(k): float(k) for k in range(1, 9)}}}


def rec(scheduler: str, workers: int, seconds: float, **fields) -> Record:
    base = {"run_id": "r", "workload": "mc", "size": "small", "repeat": 0, "verified": True}
    return Record(scheduler=scheduler, workers=workers, seconds=seconds, **(base | fields))


def curve(scheduler: str, speedups: dict[int, float], **fields) -> list[Record]:
    """Two repeats per point, 1 % apart, with the given speedups over 10 s."""
    return [rec(scheduler, k, 10.0 / s * f, repeat=i, **fields)
            for k, s in speedups.items() for i, f in enumerate((0.995, 1.005))]


def judge(records: list[Record], environment: dict | None = None) -> dict:
    summary = summarize(records, environment)
    return {v.scheduler: v for v in verdicts(summary, scaling_fits(summary))}


def test_a_curve_whose_marginal_gain_collapses_stops_paying_off_where_measured():
    speedups = {1: 1.0, 2: 1.9, 3: 2.8, 4: 3.6, 5: 3.64}
    verdict = judge(curve("processes", speedups), LINEAR)["processes"]
    assert verdict.sentence.startswith("mc/processes (small): 90% of capacity up to 4 workers;")
    assert "stops paying off past 4 workers (marginal gain 4.0% < 5% from 4 to 5 workers)" \
        in verdict.sentence
    assert (verdict.stops_past, verdict.predicted, verdict.slower) == (4, False, False)


def test_a_curve_below_half_its_capacity_stops_paying_off():
    verdict = judge(curve("processes", {1: 1.0, 2: 1.8, 4: 1.9}), LINEAR)["processes"]
    assert "stops paying off past 2 workers (47.5% of the capacity-weighted ideal at 4 " \
           "workers, below 50%)" in verdict.sentence
    assert verdict.stops_past == 2


def test_a_curve_that_keeps_paying_off_gets_a_predicted_stop_from_its_fit():
    capacity = {"1": 1.0, "2": 1.9, "3": 2.8, "4": 3.6}
    speedups = {k: float(amdahl_speedup(float(capacity[str(k)]), 0.03)) for k in (1, 2, 3, 4)}
    verdict = judge(curve("threads", speedups), {"calibration": {"capacity": capacity}})["threads"]
    assert verdict.predicted and not verdict.slower
    reached = float(amdahl_speedup(3.6, 0.03)) / 3.6
    assert f"{reached:.0%} of capacity up to 4 workers" in verdict.sentence
    assert "the serial fraction of 0.03 ± 0.00 caps it at 33.3×" in verdict.sentence
    # The same rule applied by hand to the fitted law, at 3.6 / 4 = 0.9 capacity per worker.
    previous, n = float(amdahl_speedup(3.6, 0.03)), 5
    while True:
        now = float(amdahl_speedup(0.9 * n, 0.03))
        if now / (0.9 * n) < 0.5 or (now - previous) / 0.9 < 0.05:
            break
        previous, n = now, n + 1
    assert verdict.stops_past == n - 1
    assert f"stops paying off past {n - 1} workers (predicted: capacity-efficiency" \
        in verdict.sentence


def test_a_curve_that_gets_slower_says_so_against_the_capacity_weighted_ideal():
    hosts = {"fast": {"workers": {"f": {"capacity_alone": 0.8, "capacity": 0.8}}},
             "slow1": {"workers": {"s1": {"capacity_alone": 0.2, "capacity": 0.2}}},
             "slow2": {"workers": {"s2": {"capacity_alone": 0.2, "capacity": 0.2}}}}
    names = {1: ("f",), 2: ("f", "s1"), 3: ("f", "s1", "s2")}
    records = [rec("distributed", k, 10.0 / s, worker_names=names[k])
               for k, s in ((1, 1.0), (2, 0.70), (3, 0.77))]
    verdict = judge(records, {"hosts": hosts})["distributed"]
    assert verdict.slower
    assert ("mc/distributed (small): adding workers made it slower: 0.70× at 2 workers where "
            "the capacity-weighted ideal is 1.25×, 0.77× at 3 workers where the "
            "capacity-weighted ideal is 1.50×;") in verdict.sentence
    assert "stops paying off past 1 worker" in verdict.sentence


def test_default_two_worker_run_gets_a_verdict_with_an_honest_fit():
    environment = {"calibration": {"capacity": {"1": 1.0, "2": 1.8}}}
    records = curve("processes", {1: 1.0, 2: 1.7}) + curve("synchronous", {1: 1.0})
    result = judge(records, environment)
    assert set(result) == {"processes"}  # no verdict on the serial scheduler
    sentence = result["processes"].sentence
    assert "94% of capacity up to 2 workers" in sentence
    assert "(2 points: uncertainty unknown)" in sentence and "predicted" in sentence


def test_weak_scaling_verdict_uses_gustafson():
    speedups = {1: 1.0, 2: 1.8, 4: 3.4}  # s = 0.2: S = p - 0.2 (p - 1)
    records = [rec("processes", k, 10.0 * k / s, scaling="weak", scale=float(k), repeat=i)
               for k, s in speedups.items() for i in range(2)]
    sentence = judge(records, LINEAR)["processes"].sentence
    assert "the serial fraction of 0.20 ± 0.00 (Gustafson) keeps 80% of each added capacity" \
        in sentence
    assert "no stop in sight (predicted)" in sentence


def test_noisy_points_changed_worker_sets_and_small_problems_are_mentioned():
    records = curve("processes", {1: 1.0, 2: 1.9, 4: 3.6})
    records += [rec("processes", 4, 4.0, repeat=2),  # 2.78 s, 2.76 s, 4.0 s: CV > 10 %
                rec("processes", 2, 30.0, repeat=3, worker_set_changed=True,
                    worker_set_note="worker p1 lost"),
                rec("processes", 4, 2.8, repeat=4,
                    metrics={"problem_too_small": "12 tasks for 4 worker slots"})]
    sentence = judge(records, LINEAR)["processes"].sentence
    assert "noisy (CV > 10%) at 4 workers" in sentence
    assert "worker set changed in 1 repeat(s) at 2 workers (not counted)" in sentence
    assert "problem too small at 4 workers (12 tasks for 4 worker slots)" in sentence


def test_without_a_capacity_the_verdict_says_it_uses_the_naive_ideal():
    verdict = judge(curve("threads", {1: 1.0, 2: 1.9, 4: 3.6}))["threads"]
    assert "90% of the naive ideal (no capacity measured) up to 4 workers" in verdict.sentence
    only_one = judge(curve("threads", {1: 1.0}))["threads"]
    assert "only one worker count measured" in only_one.sentence
    assert math.isnan(only_one.stops_past)
    no_reference = judge(curve("threads", {2: 1.0, 4: 2.0}))["threads"]
    assert "no speedup: the 1-worker point is missing or failed" in no_reference.sentence


@pytest.mark.parametrize("speedup", [0.5, 0.99])
def test_any_slowdown_at_two_workers_is_reported(speedup):
    verdict = judge(curve("threads", {1: 1.0, 2: speedup}), LINEAR)["threads"]
    assert verdict.slower and f"{speedup:.2f}× at 2 workers" in verdict.sentence


def test_a_law_whose_cap_is_below_the_measured_speedup_is_called_a_misfit():
    # Slower at 2 workers, then well past 1x: Amdahl's bounded fit caps it near 1x, which the
    # run itself contradicts, so the sentence must not claim that cap.
    verdict = judge(curve("processes", {1: 1.0, 2: 0.6, 3: 0.9, 4: 1.4, 5: 1.7}),
                    LINEAR)["processes"]
    assert "Amdahl's law does not fit this curve" in verdict.sentence
    assert "the run reached 1.7×" in verdict.sentence
    assert "caps it at" not in verdict.sentence.replace("(it caps at", "")


def test_a_speedup_above_the_capacity_is_never_a_share_above_100_percent():
    capacity = {"calibration": {"capacity": {"1": 1.0, "2": 1.6}}}
    verdict = judge(curve("processes", {1: 1.0, 2: 1.9}), capacity)["processes"]
    assert "at its measured capacity up to 2 workers" in verdict.sentence
    assert verdict.sentence.count("capacity underestimated") == 1
    assert "119%" not in verdict.sentence


def test_a_serial_fraction_near_zero_sets_no_cap():
    from clusterbench.analysis.verdict import _fit_part

    fit = {"law": "amdahl", "serial_fraction": 1e-13, "stderr": 0.07, "max_speedup": 8.85e12}
    assert _fit_part(fit, best=2.0).endswith("sets no cap")
    fit |= {"serial_fraction": 0.03, "max_speedup": 33.3}
    assert _fit_part(fit, best=2.0).endswith("caps it at 33.3×")
