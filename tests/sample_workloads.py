"""User-style workloads for tests: plugged in as ``tests.sample_workloads:NAME``."""

from __future__ import annotations

import os
import time

from clusterbench.workloads.base import Verdict, Workload


def _prepare(size: str, seed: int) -> list[int]:
    return list(range(1000))


def _square_sum(data: list[int], ctx) -> int:  # noqa: ANN001 - an ExecutionContext
    return sum(ctx.map(_square, data[:20]))


def _square(x: int) -> int:
    return x * x


def _off_by_one(data: list[int], ctx) -> int:  # noqa: ANN001
    # Deliberately wrong whenever it runs in parallel: the runner must flag it.
    return _square_sum(data, ctx) + (ctx.workers > 1 or ctx.scheduler != "synchronous")


def _equal(result: int, reference: int) -> Verdict:
    return Verdict(result == reference, f"{result} != {reference}" if result != reference else "")


def _prepare_naps(size: str, seed: int, seconds: float | None = None) -> float:
    # Without the parameter the nap comes from the environment: the same scenario then
    # runs slower or faster as if the code had changed (what `compare` must catch).
    return float(os.environ.get("CLUSTERBENCH_TEST_NAP", "0.01") if seconds is None else seconds)


def _naps(seconds: float, ctx) -> int:  # noqa: ANN001
    # Distinct items: ctx.map's tasks are pure, so two equal items would be one task.
    return sum(ctx.map(_nap, [(seconds, 0), (seconds, 1)]))


def _nap(item: tuple[float, int]) -> int:
    time.sleep(item[0])
    return 1


SIZES = {"tiny": {}, "small": {}, "full": {}}
SQUARES = Workload("squares", _prepare, _square_sum, _equal, SIZES, "sum of squares")
WRONG = Workload("wrong", _prepare, _off_by_one, _equal, SIZES, "answers wrong in parallel")
# Two naps of `params: {seconds: ...}` or $CLUSTERBENCH_TEST_NAP seconds: a known, real slowdown.
NAPS = Workload("naps", _prepare_naps, _naps, _equal, SIZES, "two naps of `seconds` each")
