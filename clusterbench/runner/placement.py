"""Capacity-aware placement: blocks of work in proportion to each worker's capacity.

With equal tasks a heterogeneous cluster waits on its slowest host: a worker four times
slower gets the same share, each of its tasks takes four times as long, and work stealing
cannot take back a task once it runs.  The ``distributed-capacity`` mode splits a
workload's fixed blocks instead (pure arithmetic, here):

* most of the blocks (``1 - TAIL_SHARE``) go to the point's workers in proportion to
  their calibrated capacity, one contiguous range per worker thread, each range placed on
  its worker (``workers=[address]``, ``allow_other_workers=True``: a loose restriction, so
  the scheduler may still move it if that worker is gone or saturated);
* the rest is a tail of unplaced ranges (``TAIL_TASKS_PER_SLOT`` per slot, largest first,
  shrinking to single blocks) that absorbs calibration error: the mode's ``map`` hands
  them out as slots free up, by earliest estimated finish (:class:`TailScheduler`), so the
  last ranges are small and go to whichever slot ends them first — not to a slow host
  that happens to be free and would then hold the whole run up.

Why ``workers=`` and not worker resources: resources would need every worker started with
a resource count and would restrict tasks hard (no stealing, no fallback when a worker is
lost); a loose per-task restriction needs nothing at start and degrades to plain dask.

The ranges stay contiguous and in block order, and a block's seed depends on its number
only (:func:`clusterbench.workloads.base.block_seed`), so the answer is the same as with
any other grouping.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

#: Share of the blocks left for the unplaced tail.
TAIL_SHARE = 0.2
#: Tail tasks per slot (worker thread): with the placed range, the 4 tasks per slot every
#: workload plans (:data:`~clusterbench.workloads.base.TASKS_PER_SLOT`), so the report's
#: "problem too small" flag means the same in both modes.
TAIL_TASKS_PER_SLOT = 3


@dataclass(frozen=True)
class Placement:
    """Contiguous block ranges, and for each the worker it is placed on (None: anywhere)."""

    ranges: tuple[tuple[int, int], ...]
    workers: tuple[str | None, ...]
    #: Each placed worker's capacity share (the weight its blocks were split by).
    capacities: Mapping[str, float] = field(default_factory=dict)

    @property
    def placed(self) -> int:
        """Ranges placed on a worker."""
        return sum(worker is not None for worker in self.workers)


def equal_ranges(n_blocks: int, n_tasks: int) -> list[tuple[int, int]]:
    """*n_blocks* split into *n_tasks* contiguous near-equal ranges (no empty one)."""
    n_tasks = max(1, min(n_tasks, n_blocks))
    base, extra = divmod(n_blocks, n_tasks)
    ranges, start = [], 0
    for index in range(n_tasks):
        stop = start + base + (index < extra)
        ranges.append((start, stop))
        start = stop
    return ranges


def apportion(total: int, weights: Sequence[float], minimum: int = 1) -> list[int]:
    """*total* units in proportion to *weights* (largest remainder), each at least *minimum*.

    Raises
    ------
    ValueError
        When *total* cannot give every weight its minimum.
    """
    if total < minimum * len(weights):
        raise ValueError(f"{total} units cannot give {len(weights)} shares {minimum} each")
    scale = sum(weights)
    exact = [total * w / scale for w in weights]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for index in by_remainder[:total - sum(counts)]:
        counts[index] += 1
    for index in range(len(counts)):  # the minimum, taken from the largest shares
        while counts[index] < minimum:
            counts[max(range(len(counts)), key=lambda i: counts[i])] -= 1
            counts[index] += 1
    return counts


def capacity_placement(n_blocks: int, addresses: Sequence[str], capacities: Sequence[float],
                       threads_per_worker: int = 1) -> Placement | None:
    """Split *n_blocks* over the workers at *addresses* by *capacities*, plus a tail.

    Parameters
    ----------
    n_blocks
        The workload's fixed blocks.
    addresses
        The point's workers.
    capacities
        Each worker's calibrated capacity in the point's worker set (same order).
    threads_per_worker
        Ranges per worker (one per thread).

    Returns
    -------
    Placement or None
        None when it cannot apply: capacities unknown (NaN, not positive) or too few
        blocks for one range per thread plus a tail; the caller then splits equally.
    """
    slots = len(addresses) * max(1, threads_per_worker)
    weights = [float(c) for c in capacities]
    if not addresses or len(weights) != len(addresses) \
            or not all(math.isfinite(w) and w > 0 for w in weights):
        return None
    n_tail = max(1, min(round(n_blocks * TAIL_SHARE), n_blocks - slots))
    if n_blocks - n_tail < slots:
        return None
    shares = apportion(n_blocks - n_tail, weights, minimum=max(1, threads_per_worker))
    ranges: list[tuple[int, int]] = []
    workers: list[str | None] = []
    start = 0
    for address, share in zip(addresses, shares, strict=True):
        for first, stop in equal_ranges(share, threads_per_worker):
            ranges.append((start + first, start + stop))
            workers.append(address)
        start += share
    for first, stop in shrinking_ranges(n_tail, TAIL_TASKS_PER_SLOT * slots):
        ranges.append((start + first, start + stop))
        workers.append(None)
    return Placement(tuple(ranges), tuple(workers), dict(zip(addresses, weights, strict=True)))


def shrinking_ranges(n_blocks: int, n_tasks: int) -> list[tuple[int, int]]:
    """*n_blocks* in *n_tasks* contiguous ranges, sizes falling from about twice the mean
    to one block (weights n, n-1, ..., 1): handed out largest first, the last ones leave
    little for a slot to wait on (guided self-scheduling's idea, in fixed ranges)."""
    n_tasks = max(1, min(n_tasks, n_blocks))
    sizes = sorted(apportion(n_blocks, range(n_tasks, 0, -1)), reverse=True)
    ranges, start = [], 0
    for size in sizes:
        ranges.append((start, start + size))
        start += size
    return ranges


#: A free slot wins against a busy one that would end a range within this much of it.
TIE_SECONDS = 1e-6
#: A slot's id (the mode uses ``(worker address, thread number)``).
SlotT = TypeVar("SlotT", bound=Hashable)


@dataclass
class _Slot:
    started: float = 0.0
    blocks: int = 0
    busy: bool = False
    done_blocks: int = 0
    done_seconds: float = 0.0


class TailScheduler(Generic[SlotT]):
    """Hands out tail ranges as slots free up, each to the slot that ends it first (pure).

    Earliest-finish-time list scheduling: a slot's speed is measured (blocks per second
    over the ranges it finished, from submission to completion as the client saw it); a
    slot that has finished nothing yet is estimated from its capacity, scaled like the
    measured slots.  At each completion the remaining ranges are planned, largest first,
    each on the slot that would end it first (a busy slot once it is free, then after
    the ranges already planned on it); ranges planned on a free slot are handed out now,
    the rest wait.  A free slot always wins a tie, and with no busy slot every range is
    planned on a free one, so nothing stalls.  Cost per completion: O(ranges × slots) in
    numpy.

    Parameters
    ----------
    tail
        ``(item index, blocks)`` of each tail range, largest first.
    capacities
        Each slot's capacity (any hashable slot id; same unit for all).
    """

    def __init__(self, tail: Sequence[tuple[int, int]], capacities: Mapping[SlotT, float]):
        self.left = list(tail)
        self.capacity = dict(capacities)
        self.slots = {slot: _Slot() for slot in capacities}

    def start(self, slot: SlotT, now: float, blocks: int) -> None:
        """*slot* was given *blocks* blocks at *now*."""
        state = self.slots[slot]
        state.started, state.blocks, state.busy = now, blocks, True

    def finish(self, slot: SlotT, now: float) -> list[tuple[int, SlotT]]:
        """*slot* finished at *now*: the ``(item index, slot)`` pairs to submit now (each
        already counted as started)."""
        state = self.slots[slot]
        if state.busy:
            state.busy = False
            state.done_blocks += state.blocks
            state.done_seconds += max(0.0, now - state.started)
        assigned = []
        while self.left:
            choice = self._choose(now)
            if choice is None:
                break
            position, free = choice
            index, blocks = self.left.pop(position)
            self.start(free, now, blocks)
            assigned.append((index, free))
        return assigned

    def _choose(self, now: float) -> tuple[int, SlotT] | None:
        """Plan every remaining range, largest first, on the slot that would end it first
        (busy slots once free); the first range planned on a free slot is handed out now."""
        import numpy as np

        names = list(self.slots)
        free = np.array([not self.slots[name].busy for name in names])
        if not free.any():
            return None
        rates = np.array(self.rates(names))
        available = np.array([max(now, state.started + state.blocks / rate)
                              if state.busy else now
                              for state, rate in zip((self.slots[n] for n in names), rates,
                                                     strict=True)])
        for position, (_, blocks) in enumerate(self.left):
            ends = available + blocks / rates
            chosen = int(np.argmin(np.where(free, ends - TIE_SECONDS, ends)))
            if free[chosen]:
                return position, names[chosen]
            available[chosen] = ends[chosen]
        return None

    def rates(self, names: Sequence[SlotT]) -> list[float]:
        """Blocks per second of each slot in *names*: measured, or its capacity times the
        measured slots' median blocks per second per unit of capacity (1 if none is
        measured).  One pass over the slots, whatever their number."""
        per_capacity = [state.done_blocks / state.done_seconds / self.capacity[name]
                        for name, state in self.slots.items() if state.done_seconds > 0]
        scale = statistics.median_high(per_capacity) if per_capacity else 1.0
        return [self.slots[name].done_blocks / self.slots[name].done_seconds
                if self.slots[name].done_seconds > 0
                else max(self.capacity[name], 1e-9) * scale for name in names]
