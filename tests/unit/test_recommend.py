"""The recommended worker set on synthetic summaries (the numbers of issue 14's lab)."""

from __future__ import annotations

import pandas as pd

from clusterbench.analysis.recommend import THRESHOLD, recommend, recommended_column


def _summary(medians, names, scheduler="distributed"):
    rows = [{"workload": "montecarlo", "size": "small", "scheduler": scheduler,
             "workers": len(n), "median": m, "worker_names": tuple(n)}
            for m, n in zip(medians, names, strict=True)]
    return pd.DataFrame(rows)


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
