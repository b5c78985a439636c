"""Capacity-aware placement: blocks of work in proportion to each worker's capacity.

With equal tasks a heterogeneous cluster waits on its slowest host: a worker four times
slower gets the same share, each of its tasks takes four times as long, and work stealing
cannot take back a task once it runs.  The ``distributed-capacity`` mode splits a
workload's fixed blocks instead (pure arithmetic, here):

* most of the blocks (``1 - TAIL_SHARE``) go to the point's workers in proportion to
  their calibrated capacity, one contiguous range per worker thread, each range placed on
  its worker (``workers=[address]``, ``allow_other_workers=True``: a loose restriction, so
  the scheduler may still move it if that worker is gone or saturated);
* the rest is a tail of small unplaced ranges (``TAIL_TASKS_PER_SLOT`` per slot), each
  handed to whichever worker frees up first (the mode's ``map`` submits the next one to
  the worker whose task just finished), absorbing calibration error.

Why ``workers=`` and not worker resources: resources would need every worker started with
a resource count and would restrict tasks hard (no stealing, no fallback when a worker is
lost); a loose per-task restriction needs nothing at start and degrades to plain dask.

The ranges stay contiguous and in block order, and a block's seed depends on its number
only (:func:`clusterbench.workloads.base.block_seed`), so the answer is the same as with
any other grouping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
    for first, stop in equal_ranges(n_tail, TAIL_TASKS_PER_SLOT * slots):
        ranges.append((start + first, start + stop))
        workers.append(None)
    return Placement(tuple(ranges), tuple(workers))
