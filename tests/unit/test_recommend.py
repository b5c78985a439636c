"""The recommended worker set on synthetic summaries (the numbers of issue 14's lab)."""

from __future__ import annotations

import pandas as pd
import pytest

from clusterbench.analysis.fits import scaling_fits
from clusterbench.analysis.recommend import (
    ORDER_TOLERANCE,
    THRESHOLD,
    recommend,
    recommended_column,
)
from clusterbench.analysis.speedup import summarize
from clusterbench.analysis.verdict import verdicts
from clusterbench.results.record import Record


def _summary(medians, names, scheduler="distributed", order=None, ideal=None):
    rows = [{"workload": "montecarlo", "size": "small", "scheduler": scheduler,
             "workers": len(n), "median": m, "worker_names": tuple(n)}
            for m, n in zip(medians, names, strict=True)]
    frame = pd.DataFrame(rows)
    if order is not None:
        frame["worker_order"] = order
    if ideal is not None:
        frame["ideal_capacity"] = ideal
    return frame


NAMES = [["fast-0"], ["fast-0", "slow-0"], ["fast-0", "slow-0", "slow-1"]]


def test_slow_hosts_that_make_the_run_slower_are_left_out():
    (advice,) = recommend(_summary([3.42, 4.90, 4.41], NAMES))
    assert advice.workers == ("fast-0",)
    assert [round(step.gain, 2) for step in advice.beyond] == [-0.3, 0.11]
    sentence = advice.sentence()
    assert sentence.startswith("recommended workers: fast-0 (3.42 s)")
    assert "slow-0 makes the run slower (-30%)" in sentence and "slow-1 adds 11%" in sentence


def test_a_worker_adding_less_than_the_threshold_is_not_recommended():
    (advice,) = recommend(_summary([4.0, 2.0, 1.94], NAMES))
    assert advice.workers == ("fast-0", "slow-0")
    assert "slow-1 adds 3% (below the 5% threshold)" in advice.sentence()
    assert "the best, 1.94 s with 3, is within 5%" in advice.sentence()


def test_every_worker_that_pays_is_recommended():
    (advice,) = recommend(_summary([4.0, 2.0, 1.0], NAMES))
    assert advice.workers == ("fast-0", "slow-0", "slow-1") and advice.beyond == ()
    assert advice.sentence() == "recommended workers: fast-0, slow-0, slow-1 (1 s)"


def test_no_advice_without_nested_sets_names_or_two_points():
    assert recommend(_summary([4.0, 2.0], [["a-0"], ["b-0", "c-0"]])) == []
    assert recommend(_summary([4.0, 2.0], [[], []], scheduler="threads")) == []
    assert recommend(_summary([4.0], [["a-0"]])) == []
    assert recommend(pd.DataFrame({"workload": ["w"], "median": [1.0]})) == []


def test_the_summary_column_repeats_the_set_on_every_row_of_its_curve():
    summary = pd.concat([_summary([3.42, 4.90, 4.41], NAMES),
                         _summary([2.0], [[]], scheduler="synchronous")], ignore_index=True)
    assert recommended_column(summary) == [("fast-0",)] * 3 + [None]
    assert THRESHOLD == 0.05


# --- the sweep's order: is the recommended prefix the best set of its size? -------------

#: Inventory order fast-0, slow-0, fast-1: the slow host comes before a fast one.
MIXED = [["fast-0"], ["fast-0", "slow-0"], ["fast-0", "slow-0", "fast-1"]]


def test_a_fastest_first_sweep_says_its_prefix_is_the_fastest_set_of_its_size():
    (advice,) = recommend(_summary([3.42, 4.90, 4.41], NAMES, order="fastest-first"))
    assert advice.workers == ("fast-0",) and advice.best_of_its_size
    assert advice.sentence().endswith("; swept fastest first: the fastest 1 of the 3 measured")


def test_an_inventory_sweep_that_added_a_slow_host_before_a_fast_one_asks_for_fastest_first():
    # fast-1 adds a full capacity unit after slow-0 added a quarter: {fast-0, fast-1} was
    # never measured, and might beat fast-0 alone.
    (advice,) = recommend(_summary([3.42, 4.90, 4.0], MIXED, order="inventory",
                                   ideal=[1.0, 1.25, 2.25]))
    assert advice.workers == ("fast-0",) and not advice.best_of_its_size
    assert advice.inversion is not None and advice.inversion.faster == ("fast-1",)
    assert ("swept in inventory order, and fast-1 came after the slower slow-0 (capacity "
            "1.00 vs 0.25 per worker): run with --order fastest-first to be sure no other "
            "set is faster") in advice.sentence()


def test_an_inventory_order_that_was_fastest_first_anyway_is_trusted():
    (advice,) = recommend(_summary([3.42, 4.90, 4.41], NAMES, order="inventory",
                                   ideal=[1.0, 1.25, 1.5]))
    assert advice.best_of_its_size and advice.inversion is None
    assert advice.sentence().endswith(
        "swept in inventory order, which was also fastest first by measured capacity")


def test_capacities_within_calibration_noise_are_not_an_inversion():
    # slow-1 reads 0.29 against slow-0's 0.25: within the tolerance, same speed.
    rise = 0.25 * (1 + ORDER_TOLERANCE) - 0.01
    (advice,) = recommend(_summary([3.42, 4.90, 4.41], NAMES, order="inventory",
                                   ideal=[1.0, 1.25, 1.25 + rise]))
    assert advice.inversion is None and advice.best_of_its_size


def test_without_capacities_an_inventory_sweep_cannot_be_sure():
    (advice,) = recommend(_summary([3.42, 4.90, 4.41], NAMES, order="inventory",
                                   ideal=[1.0, float("nan"), float("nan")]))
    assert not advice.best_of_its_size
    assert advice.sentence().endswith("swept in inventory order and worker capacities "
                                      "unknown: run with --order fastest-first to be sure "
                                      "no other set is faster")
    (old,) = recommend(_summary([3.42, 4.90, 4.41], NAMES))
    assert "the sweep's order is not recorded" in old.sentence()


def test_no_order_note_when_every_measured_worker_is_recommended():
    (advice,) = recommend(_summary([4.0, 2.0, 1.0], MIXED, order="inventory",
                                   ideal=[1.0, 1.25, 2.25]))
    assert advice.order_note() == "" and advice.best_of_its_size


CAPACITIES = {"fast": {"workers": {"fast-0": {"capacity_alone": 0.8, "capacity": 0.8}}},
              "fast1": {"workers": {"fast-1": {"capacity_alone": 0.8, "capacity": 0.8}}},
              "slow": {"workers": {"slow-0": {"capacity_alone": 0.2, "capacity": 0.2}}}}


def _run(order: str, names) -> list[Record]:
    base = {"run_id": "r", "workload": "montecarlo", "size": "small", "verified": True,
            "scheduler": "distributed"}
    return [Record(workers=len(n), repeat=i, seconds=s * f, worker_names=tuple(n), **base)
            for n, s in zip(names, (3.42, 4.90, 4.0), strict=True)
            for i, f in enumerate((0.995, 1.005))]


@pytest.mark.parametrize(("order", "names", "expected"), [
    ("fastest-first", [["fast-0"], ["fast-0", "fast-1"], ["fast-0", "fast-1", "slow-0"]],
     "swept fastest first"),
    ("inventory", MIXED, "fast-1 came after the slower slow-0"),
])
def test_the_verdict_reads_the_order_from_the_run_environment(order, names, expected):
    environment = {"scenario": {"order": order}, "hosts": CAPACITIES}
    summary = summarize(_run(order, names), environment)
    assert set(summary["worker_order"]) == {order}
    (verdict,) = verdicts(summary, scaling_fits(summary))
    assert expected in verdict.sentence and "recommended workers: fast-0" in verdict.sentence


def test_long_worker_lists_are_shortened() -> None:
    from clusterbench.analysis.recommend import name_list

    assert name_list(["a", "b"]) == "a, b"
    assert name_list([f"w{i}" for i in range(6)]) == "w0, w1, w2, w3, w4, w5"
    assert name_list([f"box-{i}" for i in range(1, 256)]) == \
        "box-1, box-2, box-3, box-4, box-5 and 250 more"
