"""Capacity-aware placement (distributed-capacity): the split arithmetic, the answers it
gives, and the straggler view of a repeat."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clusterbench.analysis.capacity import CapacityModel
from clusterbench.runner.modes import ExecutionContext
from clusterbench.runner.placement import (
    TAIL_SHARE,
    TAIL_TASKS_PER_SLOT,
    TailScheduler,
    apportion,
    capacity_placement,
    equal_ranges,
    shrinking_ranges,
)
from clusterbench.runner.workerset import worker_activity
from clusterbench.workloads import montecarlo
from clusterbench.workloads.base import block_ranges

ADDRESSES = ("tls://fast:1", "tls://slow1:1", "tls://slow2:1")


def _covers(ranges, n_blocks):
    """Contiguous, in order, every block exactly once."""
    assert ranges[0][0] == 0 and ranges[-1][1] == n_blocks
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(stop > start for start, stop in ranges)


def test_blocks_follow_the_capacities_and_a_tail_is_left_to_the_scheduler():
    placement = capacity_placement(160, ADDRESSES, [0.8, 0.2, 0.2])
    _covers(placement.ranges, 160)
    sizes = {address: sum(stop - start for (start, stop), worker
                          in zip(placement.ranges, placement.workers, strict=True)
                          if worker == address) for address in ADDRESSES}
    tail = [r for r, worker in zip(placement.ranges, placement.workers, strict=True)
            if worker is None]
    assert sum(stop - start for start, stop in tail) == round(160 * TAIL_SHARE)
    assert len(tail) == TAIL_TASKS_PER_SLOT * len(ADDRESSES)
    assert sizes == {"tls://fast:1": 86, "tls://slow1:1": 21, "tls://slow2:1": 21}  # 128 blocks
    # Placed ranges come first, in worker order, then the tail: block order is unchanged.
    assert placement.workers[:3] == ADDRESSES and placement.placed == 3


def test_one_range_per_thread_of_each_worker():
    placement = capacity_placement(100, ADDRESSES[:2], [1.0, 1.0], threads_per_worker=2)
    assert placement.workers[:4] == (ADDRESSES[0],) * 2 + (ADDRESSES[1],) * 2
    _covers(placement.ranges, 100)


@pytest.mark.parametrize("capacities", [[math.nan, 1.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0]])
def test_unknown_capacities_fall_back_to_equal_ranges(capacities):
    assert capacity_placement(160, ADDRESSES, capacities) is None
    ctx = ExecutionContext("distributed-capacity", 3, worker_addresses=ADDRESSES,
                           worker_capacities=tuple(capacities))
    assert ctx.block_ranges(160, 12) == block_ranges(160, 12)
    assert ctx.placement is None


def test_too_few_blocks_for_one_range_per_slot_and_a_tail_fall_back():
    assert capacity_placement(3, ADDRESSES, [1.0, 1.0, 1.0]) is None
    assert capacity_placement(4, ADDRESSES, [1.0, 1.0, 1.0]) is not None


def test_other_modes_split_equally_as_before():
    for mode in ("synchronous", "threads", "distributed"):
        ctx = ExecutionContext(mode, 3, worker_addresses=ADDRESSES,
                               worker_capacities=(0.8, 0.2, 0.2))
        assert ctx.block_ranges(160, 12) == block_ranges(160, 12) == equal_ranges(160, 12)


@given(n_blocks=st.integers(1, 5000), n_tasks=st.integers(1, 300))
def test_equal_ranges_are_numpys_array_split(n_blocks, n_tasks):
    ranges = equal_ranges(n_blocks, n_tasks)
    _covers(ranges, n_blocks)
    if n_tasks <= n_blocks:
        assert ranges == block_ranges(n_blocks, n_tasks)


@given(n_blocks=st.integers(1, 3000),
       capacities=st.lists(st.floats(0.01, 10.0), min_size=1, max_size=12),
       threads=st.integers(1, 4))
def test_any_placement_covers_every_block_once(n_blocks, capacities, threads):
    addresses = [f"tcp://w{i}:1" for i in range(len(capacities))]
    placement = capacity_placement(n_blocks, addresses, capacities, threads)
    if placement is None:
        assert n_blocks < len(addresses) * threads + 1
        return
    _covers(placement.ranges, n_blocks)
    assert all(placement.workers.count(a) == threads for a in addresses)


@given(total=st.integers(0, 10_000), weights=st.lists(st.floats(0.001, 100), min_size=1,
                                                       max_size=20))
def test_apportion_gives_every_unit_and_follows_the_weights(total, weights):
    if total < len(weights):
        with pytest.raises(ValueError):
            apportion(total, weights)
        return
    counts = apportion(total, weights)
    assert sum(counts) == total and min(counts) >= 1
    exact = [total * weight / sum(weights) for weight in weights]
    if min(exact) >= 1:  # no minimum to enforce: largest remainder, within one unit
        assert all(abs(c - x) < 1 + 1e-9 for c, x in zip(counts, exact, strict=True))


def test_montecarlo_answer_is_the_same_under_every_grouping():
    data = montecarlo.prepare("tiny", seed=7, n_paths=400, days=30)
    serial = montecarlo.price_blocks((data, 0, data.n_blocks))
    groupings = [block_ranges(data.n_blocks, 3),
                 capacity_placement(data.n_blocks, ADDRESSES, [0.8, 0.2, 0.05]).ranges,
                 capacity_placement(data.n_blocks, ADDRESSES[:2], [1, 3], 2).ranges]
    for ranges in groupings:
        grouped = np.concatenate([montecarlo.price_blocks((data, *r)) for r in ranges])
        assert np.array_equal(grouped, serial)


def test_capacity_shares_of_a_set_add_up_to_its_capacity():
    environment = {"hosts": {"fast": {"workers": {
        "fast-0": {"capacity_alone": 0.8, "capacity": 0.8}}},
        "slow": {"workers": {"slow-0": {"capacity_alone": 0.2, "capacity": 0.15},
                             "slow-1": {"capacity_alone": 0.2, "capacity": 0.15}}}}}
    model = CapacityModel.from_environment(environment)
    shares = model.shares(["fast-0", "slow-0", "slow-1"])
    assert shares == pytest.approx([0.8, 0.15, 0.15])
    assert sum(shares) == pytest.approx(model.of_set(["fast-0", "slow-0", "slow-1"]))
    assert model.shares(["slow-0"]) == pytest.approx([0.2])
    assert all(math.isnan(s) for s in model.shares(["fast-0", "nobody"]))


def test_worker_activity_names_the_straggler():
    planned = {"fast-0": "tcp://a:1", "slow-0": "tcp://b:1", "idle-0": "tcp://c:1"}

    def entry(worker, start, stop):
        return {"worker": worker, "startstops": [
            {"action": "transfer", "start": start - 1, "stop": start},
            {"action": "compute", "start": start, "stop": stop}]}

    entries = [entry("tcp://a:1", 100.0, 101.0), entry("tcp://a:1", 101.0, 102.0),
               entry("tcp://b:1", 100.0, 106.0)]
    activity = worker_activity(entries, planned)
    assert activity["fast-0"] == {"tasks": 2, "busy_s": 2.0, "idle_end_s": 4.0}
    assert activity["slow-0"] == {"tasks": 1, "busy_s": 6.0, "idle_end_s": 0.0}
    assert activity["idle-0"] == {"tasks": 0, "busy_s": 0.0, "idle_end_s": 6.0}
    assert worker_activity([], planned) == {}


def _simulate(placed, tail, true_rates, capacities):
    """Run a TailScheduler on a fake clock: *placed* maps slot -> blocks of its placed range,
    *true_rates* slot -> blocks per second.  Returns (makespan, {item index: slot})."""
    import heapq

    scheduler = TailScheduler(tail, capacities)
    events, given = [], {}
    for slot, blocks in placed.items():
        scheduler.start(slot, 0.0, blocks)
        heapq.heappush(events, (blocks / true_rates[slot], slot))
    end = 0.0
    while events:
        now, slot = heapq.heappop(events)
        end = max(end, now)
        for index, other in scheduler.finish(slot, now):
            assert index not in given
            given[index] = other
            size = dict(tail)[index]
            heapq.heappush(events, (now + size / true_rates[other], other))
    return end, given


def _greedy_makespan(placed, tail, true_rates):
    """The previous rule: the next tail range to whichever slot frees up first."""
    import heapq

    events = [(blocks / true_rates[slot], slot) for slot, blocks in placed.items()]
    heapq.heapify(events)
    left, end = list(tail), 0.0
    while events:
        now, slot = heapq.heappop(events)
        end = max(end, now)
        if left:
            _, size = left.pop(0)
            heapq.heappush(events, (now + size / true_rates[slot], slot))
    return end


def test_tail_ranges_shrink_to_single_blocks_and_cover_the_tail():
    ranges = shrinking_ranges(32, 15)
    sizes = [stop - start for start, stop in ranges]
    _covers(ranges, 32)
    assert len(ranges) == 15 and sizes == sorted(sizes, reverse=True)
    assert sizes[0] >= 3 and sizes[-1] == 1
    assert shrinking_ranges(3, 15) == [(0, 1), (1, 2), (2, 3)]


def test_a_slow_free_slot_does_not_take_the_last_range_a_fast_one_ends_sooner():
    rates = {"fast": 4.0, "slow": 1.0}
    # fast is busy until t=1 (4 blocks); slow is free at t=1 too (1 block).  Two tail
    # ranges of 2 blocks: slow would end one at t=3, fast ends both by t=2.
    end, given = _simulate({"fast": 4, "slow": 1}, [(10, 2), (11, 2)], rates,
                           {"fast": 4.0, "slow": 1.0})
    assert set(given.values()) == {"fast"} and end == pytest.approx(2.0)
    assert _greedy_makespan({"fast": 4, "slow": 1}, [(10, 2), (11, 2)], rates) > end


@given(rates=st.lists(st.floats(0.05, 20.0), min_size=1, max_size=8),
       errors=st.lists(st.floats(0.25, 4.0), min_size=8, max_size=8),
       n_tail=st.integers(1, 200), per_slot=st.integers(1, 60))
def test_every_tail_range_is_handed_out_once_and_nothing_stalls(rates, errors, n_tail,
                                                                 per_slot):
    """Whatever the calibration error (capacities off by 4x either way), every range is
    given to exactly one slot, and the run ends."""
    slots = [f"w{i}" for i in range(len(rates))]
    true_rates = dict(zip(slots, rates, strict=False))
    capacities = {s: r * e for s, r, e in zip(slots, rates, errors, strict=False)}
    tail = [(100 + i, stop - start) for i, (start, stop)
            in enumerate(shrinking_ranges(n_tail, 3 * len(slots)))]
    placed = {slot: max(1, round(per_slot * capacities[slot] / max(capacities.values())))
              for slot in slots}
    end, given = _simulate(placed, tail, true_rates, capacities)
    assert sorted(given) == [index for index, _ in tail]
    assert math.isfinite(end)


@given(rates=st.lists(st.floats(0.1, 10.0), min_size=2, max_size=6),
       n_tail=st.integers(4, 120), per_slot=st.integers(1, 60))
def test_with_exact_capacities_the_tail_ends_within_one_range_of_first_free_first_served(
        rates, n_tail, per_slot):
    """List scheduling is no optimum, but planning by finish time never loses more than
    the largest tail range on the fastest slot against handing out to whoever is free."""
    slots = [f"w{i}" for i in range(len(rates))]
    true_rates = dict(zip(slots, rates, strict=True))
    tail = [(100 + i, stop - start) for i, (start, stop)
            in enumerate(shrinking_ranges(n_tail, 3 * len(slots)))]
    placed = {slot: max(1, round(per_slot * rate / max(rates)))
              for slot, rate in true_rates.items()}
    end, _ = _simulate(placed, tail, true_rates, true_rates)
    slack = max(size for _, size in tail) / max(rates)
    assert end <= _greedy_makespan(placed, tail, true_rates) + slack * (1 + 1e-9)
