"""The deadline of a repeat (pure), the guard that enforces it, and `status` rows of lost and
left-out workers (pure)."""

from __future__ import annotations

import math
import threading
import time

import pytest

from clusterbench.cluster.status import worker_rows
from clusterbench.runner.deadline import (
    Deadline,
    DeadlineExceeded,
    SchedulerLost,
    repeat_deadline,
    run_guarded,
    scheduler_unreachable,
)


def test_nothing_measured_means_the_scenario_timeout():
    assert repeat_deadline(300.0) == Deadline(300.0, "the scenario's timeout; nothing measured yet")


def test_ten_times_the_slowest_known_time():
    limit = repeat_deadline(300.0, reference=2.0, warmup=3.0, slowest=1.5)
    assert limit.seconds == 30.0 and limit.why == "10 × the warm-up of 3 s"
    assert repeat_deadline(300.0, reference=2.0, slowest=4.0).seconds == 40.0


def test_floor_and_cap():
    assert repeat_deadline(300.0, reference=0.2).seconds == 10.0  # sub-second: the minimum
    assert "minimum" in repeat_deadline(300.0, reference=0.2).why
    assert repeat_deadline(60.0, reference=20.0).seconds == 60.0  # the timeout caps it
    assert repeat_deadline(6.0, reference=0.2).seconds == 6.0  # ... the minimum too


def test_unmeasured_values_are_ignored():
    assert repeat_deadline(300.0, math.nan, 0.0, 2.0).seconds == 20.0


def test_guard_returns_the_result_and_reraises_errors():
    assert run_guarded(lambda: 42, Deadline(5, ""), "repeat 1") == 42
    with pytest.raises(ZeroDivisionError):
        run_guarded(lambda: 1 / 0, Deadline(5, ""), "repeat 1")


def test_guard_cancels_overdue_work_in_bounded_time():
    release = threading.Event()
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"repeat 2 exceeded its deadline of 0.3 s \(x\)"):
        run_guarded(lambda: release.wait(30), Deadline(0.3, "x"), "repeat 2", cancel=release.set)
    assert time.monotonic() - start < 2


def test_guard_stops_when_the_scheduler_is_gone():
    lost = SchedulerLost("tcp://10.0.0.1:8786", "connection refused")
    with pytest.raises(SchedulerLost, match="is gone: connection refused; the remaining "
                                            "distributed points were not run"):
        run_guarded(lambda: time.sleep(30), Deadline(20, ""), "repeat 1", lost=lambda: lost)


def test_a_closed_port_is_unreachable_and_a_bad_address_is_not_probed():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        assert "connection refused" in scheduler_unreachable(f"tcp://127.0.0.1:{port}")
    assert scheduler_unreachable("inproc://x") is None


def test_status_rows_of_lost_and_left_out_workers():
    from clusterbench.cluster.state import ClusterState

    state = ClusterState(
        "lab", workers=({"name": "pi1-0", "host": "pi1"}, {"name": "pi2-0", "host": "pi2"}),
        left_out=({"name": "ghost-0", "host": "ghost",
                   "reason": "ghost: command 'env python3 -m ...' exited 127: not found"},))
    registered = [{"name": "pi1-0", "host": "pi1", "address": "tls://a:1", "threads": 1,
                   "memory": None, "status": "running"}]
    rows = {row["name"]: row for row in worker_rows(state, registered, {})}
    assert rows["pi1-0"]["status"] == "running"
    assert rows["pi2-0"]["status"] == "lost" and rows["pi2-0"]["host"] == "pi2"
    assert rows["ghost-0"]["status"] == "left out: exited 127: not found"


def test_a_warm_up_gets_time_for_the_workers_first_imports():
    from clusterbench.runner.deadline import FIRST_USE_SECONDS, warmup_deadline

    limit = warmup_deadline(300.0, reference=0.2, warmups=2)  # 2 × the 10 s floor + imports
    assert limit.seconds == 2 * 10.0 + FIRST_USE_SECONDS
    assert "first imports" in limit.why and "minimum" in limit.why
    assert warmup_deadline(300.0, reference=0.2, warmups=0).seconds == 10.0 + FIRST_USE_SECONDS
    capped = warmup_deadline(45.0, reference=0.2, warmups=1)
    assert capped.seconds == 45.0 and capped.why.startswith("the scenario's timeout")
