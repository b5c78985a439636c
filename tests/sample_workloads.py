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


SIZES = {"tiny": {}, "quick": {}, "small": {}, "full": {}}
SQUARES = Workload("squares", _prepare, _square_sum, _equal, SIZES, "sum of squares")
WRONG = Workload("wrong", _prepare, _off_by_one, _equal, SIZES, "answers wrong in parallel")
# Two naps of `params: {seconds: ...}` or $CLUSTERBENCH_TEST_NAP seconds: a known, real slowdown.
NAPS = Workload("naps", _prepare_naps, _naps, _equal, SIZES, "two naps of `seconds` each")


def _few_squares(data: list[int], ctx) -> int:  # noqa: ANN001
    return sum(ctx.map(_square, data[:5]))


# Five tasks whatever the width: too little work for 2 workers (4 tasks per worker wanted).
FEW = Workload("few", _prepare, _few_squares, _equal, SIZES, "five tasks")


def _prepare_kill(size: str, seed: int, flag_dir: str = "") -> str:
    return flag_dir


def _kill_once(flag_dir: str, ctx) -> int:  # noqa: ANN001
    """Eight short tasks; on the third call at 2 distributed workers (warm-up, repeat 1,
    then repeat 2) one of them SIGKILLs the worker process that runs it, once."""
    if ctx.is_distributed and ctx.workers == 2:
        calls = os.path.join(flag_dir, "calls")
        count = 1
        if os.path.exists(calls):
            with open(calls) as fh:
                count += int(fh.read())
        with open(calls, "w") as fh:
            fh.write(str(count))
        if count == 3:
            open(os.path.join(flag_dir, "armed"), "w").close()
    return sum(ctx.map(_nap_or_die, [(flag_dir, i) for i in range(8)]))


def _nap_or_die(item: tuple[str, int]) -> int:
    import signal

    armed = os.path.join(item[0], "armed")
    time.sleep(0.1)
    if item[1] == 0 and os.path.exists(armed):
        os.unlink(armed)
        os.kill(os.getpid(), signal.SIGKILL)
    return item[1]


# Kills one of its distributed workers during one repeat (see _kill_once).
KILL_ONCE = Workload("kill-once", _prepare_kill, _kill_once, _equal, SIZES, "kills a worker once")


class _Seen(int):
    """An answer (always 0, so every point verifies) that carries the serial time its
    context offered the workload, for the runner to record among the metrics."""

    metrics: dict


def _serial_seen(data: list[int], ctx) -> _Seen:  # noqa: ANN001
    sum(ctx.map(_square, data[:4]))
    seen = _Seen(0)
    seen.metrics = {"serial_seen": ctx.serial_seconds}
    return seen


# Records the serial time the runner hands each point (ctx.serial_seconds) in its metrics.
SERIAL_SEEN = Workload("serial-seen", _prepare, _serial_seen, _equal, SIZES, "serial time seen")


def _exit_in_parallel(data: list[int], ctx) -> int:  # noqa: ANN001
    if ctx.workers == 2:
        raise SystemExit(3)  # what a user's script-turned-workload may do
    return _square_sum(data, ctx)


# Calls sys.exit(3) at 2 workers: a failed point, not the end of the sweep.
EXITS = Workload("exits", _prepare, _exit_in_parallel, _equal, SIZES, "exits at 2 workers")
