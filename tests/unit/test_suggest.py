"""The one did-you-mean helper."""

from __future__ import annotations

from clusterbench.suggest import MAX_WORD, closest, did_you_mean


def test_the_closest_name_is_suggested():
    assert did_you_mean("thread", ["threads", "processes"]) == " (did you mean 'threads'?)"
    assert closest(5, ["5x", "y"]) == "5x"


def test_a_text_longer_than_any_name_gets_no_hint():
    # Found by the fuzzer: thousands of invalid list entries with one long text asked difflib
    # for a hint each (50 s for one case); no name is that long, so no hint is looked for.
    assert closest("threads" + "x" * MAX_WORD, ["threads"]) is None
    assert did_you_mean("t" * 20_000, ["threads"]) == ""
