"""Hostile scenario input never gives a traceback: every malformed scenario mapping,
worker-count text or command-line narrowing is a one-line ScenarioError (hypothesis)."""

from __future__ import annotations

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from clusterbench.errors import ClusterbenchError  # noqa: E402
from clusterbench.runner.scenario import (  # noqa: E402
    _FIELDS,
    expand_workers,
    narrow,
    parse_scenario,
)

SETTINGS = settings(max_examples=500, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True), st.text(max_size=12),
                    st.sampled_from(["1,2,4..max", "max", "1..", "..max", "0", "-1", "1e9"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
keys = st.one_of(st.sampled_from(sorted(_FIELDS) + ["params", "name"]), st.text(max_size=8))


def _one_line(error: ClusterbenchError) -> None:
    assert str(error) and "\n" not in str(error) and "Traceback" not in str(error)


@SETTINGS
@given(st.dictionaries(keys, values, max_size=8))
def test_any_scenario_mapping_is_a_scenario_or_one_line(data):
    data.setdefault("workloads", ["montecarlo"])
    try:
        parse_scenario(data, "fuzz.yml")
    except ClusterbenchError as error:
        _one_line(error)


@SETTINGS
@given(values)
def test_any_yaml_document_is_refused_in_one_line(data):
    try:
        parse_scenario(yaml.safe_load(yaml.safe_dump(data)), "fuzz.yml")
    except ClusterbenchError as error:
        _one_line(error)


@SETTINGS
@given(st.text(max_size=24), st.integers(1, 4096))
def test_any_worker_count_text_expands_or_is_one_line(text, maximum):
    try:
        counts = expand_workers(text, maximum)
    except ClusterbenchError as error:
        _one_line(error)
        return
    assert counts and all(1 <= n <= maximum for n in counts) and list(counts) == sorted(counts)


#: What argparse hands `narrow`: text options as str, counts as int (or None when not given).
TEXT_OPTIONS = ["workloads", "size", "schedulers", "workers", "order", "order_points"]
INT_OPTIONS = ["repeats", "warmup", "seed", "stabilize", "retries"]


@SETTINGS
@given(st.dictionaries(st.sampled_from(TEXT_OPTIONS), st.one_of(st.text(max_size=16), st.none()),
                       max_size=4),
       st.dictionaries(st.sampled_from(INT_OPTIONS),
                       st.one_of(st.integers(-5, 10**9), st.none()), max_size=3))
def test_any_command_line_narrowing_is_valid_or_one_line(text_options, int_options):
    base = parse_scenario({"workloads": ["montecarlo"]}, "base.yml")
    try:
        narrow(base, **text_options, **int_options)
    except ClusterbenchError as error:
        _one_line(error)
