"""Deadlines for timed repeats, and telling a lost scheduler from a slow repeat.

A repeat can stop making progress without failing: a host's link cut (the scheduler keeps
the worker registered and waits for it), a host whose CPU quota is cut to nearly nothing,
a remote scheduler whose host went away.  Every repeat (and a point's warm-up) therefore
runs under a deadline derived from what the point is known to take
(:func:`repeat_deadline`)::

    deadline = min(timeout, max(MIN_DEADLINE_SECONDS, DEADLINE_FACTOR × basis))
    basis    = max(serial reference, warm-up per run, slowest repeat of the point so far)

* the **serial reference** (measured in prepare, on this machine) is the time of the whole
  problem on one process: a k-worker point should be faster, a point of slow workers (a
  0.25-CPU "pi" is 4× slower) or with dask's overhead may be a few times slower;
* the **warm-up** ran on the point's own workers, so it already includes their speed;
* the **slowest repeat so far** covers a point whose work legitimately varies;
* ``DEADLINE_FACTOR`` (10×) leaves room for all of that and for a noisy shared machine;
  ``MIN_DEADLINE_SECONDS`` keeps sub-second workloads from being cut by a hiccup (a worker's
  garbage collection, a slow first task);
* the scenario's ``timeout:`` (default 300 s) is the upper bound, and the deadline itself
  when nothing was measured yet.

The work runs in a helper thread (:func:`run_guarded`); the calling thread waits for it,
polls whether the distributed scheduler is still there, and on the deadline cancels the
work: the client's futures are cancelled (distributed, joblib's dask backend), the pool's
processes are killed (processes mode).  A Python thread cannot be stopped, so in the
threads and synchronous modes the stuck work is abandoned (the point is closed as failed).
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from clusterbench.errors import ClusterbenchError

T = TypeVar("T")

#: Multiple of the point's known time (see the module docstring) a repeat may take.
DEADLINE_FACTOR = 10.0
#: Shortest deadline: below it a hiccup of a shared machine could cut a healthy repeat.
MIN_DEADLINE_SECONDS = 10.0
#: Added to a point's warm-up deadline: workers that never ran the workload import it first
#: (scikit-learn's first import took 11 s on a loaded lab host, more on a Raspberry Pi), and
#: a tiny workload's 10 s floor cut those warm-ups on a mixed SSH + SLURM cluster.
FIRST_USE_SECONDS = 60.0
#: After cancelling, how long to wait for the work to give up before abandoning it.
CANCEL_GRACE_SECONDS = 5.0
#: How often the waiting thread checks that the scheduler is still connected.
POLL_SECONDS = 0.25
#: TCP connect timeout of the "is the scheduler still there" probe.
PROBE_SECONDS = 3.0


class DeadlineExceeded(ClusterbenchError):
    """A repeat (or warm-up) ran past its deadline and was cancelled."""

    def __init__(self, what: str, deadline: Deadline) -> None:
        self.deadline = deadline
        super().__init__(f"{what} exceeded its deadline of {deadline.seconds:.3g} s "
                         f"({deadline.why}); cancelled")


class SchedulerLost(ClusterbenchError):
    """The distributed scheduler is unreachable; no distributed point can run any more."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        super().__init__(f"the scheduler at {address} is gone: {reason}; the remaining "
                         f"distributed points were not run")


@dataclass(frozen=True)
class Deadline:
    """Seconds a repeat may take, and a short text saying where the figure comes from."""

    seconds: float
    why: str


def repeat_deadline(timeout: float, reference: float = math.nan, warmup: float = math.nan,
                    slowest: float = math.nan, factor: float = DEADLINE_FACTOR,
                    floor: float = MIN_DEADLINE_SECONDS) -> Deadline:
    """The deadline of one repeat (pure; see the module docstring for the formula).

    Parameters
    ----------
    timeout
        The scenario's ``timeout:``: upper bound, and the deadline when nothing is known.
    reference
        Seconds of the workload's serial reference run (NaN: unknown).
    warmup
        Seconds of one warm-up run of this point (NaN: none ran).
    slowest
        Seconds of the slowest counted repeat of this point so far (NaN: none yet).
    factor, floor
        :data:`DEADLINE_FACTOR` and :data:`MIN_DEADLINE_SECONDS`.

    Returns
    -------
    Deadline
    """
    known = {name: value for name, value in (("serial reference", reference),
                                             ("warm-up", warmup), ("slowest repeat", slowest))
             if value == value and value > 0}  # NaN and zero: not measured
    if not known:
        return Deadline(timeout, "the scenario's timeout; nothing measured yet")
    name, basis = max(known.items(), key=lambda item: item[1])
    seconds = max(floor, factor * basis)
    if seconds >= timeout:
        return Deadline(timeout, f"the scenario's timeout; {factor:g} × the {name} "
                                 f"of {basis:.3g} s is more")
    if seconds == floor:
        return Deadline(floor, f"the {floor:g} s minimum; {factor:g} × the {name} "
                               f"of {basis:.3g} s is less")
    return Deadline(seconds, f"{factor:g} × the {name} of {basis:.3g} s")


def warmup_deadline(timeout: float, reference: float, warmups: int,
                    first_use: float = FIRST_USE_SECONDS) -> Deadline:
    """The deadline of a point's warm-up runs: a repeat's (from the serial *reference*) per
    run, plus *first_use* seconds for the workers' first imports, capped by *timeout*."""
    each = repeat_deadline(timeout, reference)
    seconds = each.seconds * max(1, warmups) + first_use
    if seconds >= timeout:
        return Deadline(timeout, f"the scenario's timeout; {max(1, warmups)} × ({each.why}) "
                                 f"+ {first_use:g} s for first imports is more")
    return Deadline(seconds, f"{max(1, warmups)} × ({each.why}) + {first_use:g} s for the "
                             f"workers' first imports")


def run_guarded(work: Callable[[], T], deadline: Deadline, what: str,
                cancel: Callable[[], None] = lambda: None,
                lost: Callable[[], SchedulerLost | None] = lambda: None) -> T:
    """``work()`` in a helper thread, bounded by *deadline* and by the scheduler's presence.

    Parameters
    ----------
    work
        The repeat (or warm-up); its result is returned, its exception re-raised.
    deadline
        From :func:`repeat_deadline`.
    what
        Names the work in the error (``"repeat 2"``, ``"the warm-up"``).
    cancel
        Called once the deadline has passed, to make *work* give up.
    lost
        Polled while waiting: the error to raise when the scheduler is gone, else None
        (:func:`scheduler_lost`).

    Raises
    ------
    DeadlineExceeded
        *work* did not finish in time (it was cancelled).
    SchedulerLost
        *lost* said so (the work was cancelled).
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # handed to the waiting thread, never printed here
            outcome["error"] = exc
        finally:
            done.set()

    # A daemon: work abandoned after its deadline must not keep the process from exiting.
    threading.Thread(target=target, name="clusterbench-repeat", daemon=True).start()
    end = time.monotonic() + deadline.seconds
    while not done.wait(min(POLL_SECONDS, max(0.0, end - time.monotonic()))):
        gone = lost()
        if gone is not None:
            cancel()
            raise gone
        if time.monotonic() >= end:
            cancel()
            done.wait(CANCEL_GRACE_SECONDS)
            raise DeadlineExceeded(what, deadline)
    if isinstance(outcome.get("error"), SystemExit):  # not the end of the sweep: a failure
        raise RuntimeError(f"the workload called sys.exit({outcome['error'].code!r})")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def scheduler_unreachable(address: str, seconds: float = PROBE_SECONDS) -> str | None:
    """Why nothing answers at the scheduler's *address* (one TCP connect), or None.

    A connect is what tells a dead scheduler (refused at once: the process is gone, its host
    is up) and an unreachable host (no answer within *seconds*) from a slow one; the dask
    client's own reconnect loop retries for its whole timeout (30-60 s) before it says so.
    """
    from clusterbench.runner.backends import scheduler_endpoint

    try:
        host, port = scheduler_endpoint(address)
    except ClusterbenchError:
        return None  # inproc:// and the like: nothing to probe
    try:
        with socket.create_connection((host, port), timeout=seconds):
            return None
    except ConnectionRefusedError:
        return f"connection refused (nothing listens on {host}:{port} any more)"
    except TimeoutError:
        return f"no answer from {host}:{port} within {seconds:g} s"
    except OSError as exc:
        return f"{host}:{port} unreachable ({exc.strerror or type(exc).__name__})"


def scheduler_lost(client: Any, probe: bool = False) -> SchedulerLost | None:
    """A :class:`SchedulerLost` when *client*'s scheduler is gone, else None.

    Cheap while the client is connected (a status check); a client that lost its
    connection (``connecting``, ``closed``) costs a probe of the address, and so does
    *probe*: after a deadline, when a cut link may not have closed the connection yet.
    """
    if client is None or (not probe and getattr(client, "status", "running") == "running"):
        return None
    address = scheduler_address(client)
    reason = scheduler_unreachable(address)
    return None if reason is None else SchedulerLost(address, reason)


def scheduler_address(client: Any) -> str:
    """The address *client* talks to (``tls://host:port``)."""
    with contextlib.suppress(AttributeError):
        return str(client.scheduler.address)
    return "?"


def cancel_client_work(client: Any) -> None:
    """Cancel every future this client holds: the repeat's (dask collections, joblib's dask
    backend); blocked ``gather`` calls then raise ``CancelledError``."""
    with contextlib.suppress(Exception):  # a client that is already gone holds nothing
        client.sync(_cancel_keys, client, list(client.futures))


async def _cancel_keys(client: Any, keys: list[Any]) -> None:
    """``Client.cancel`` by key: it wants Future objects, and the repeat's own are out of
    reach (inside dask.compute, joblib); making new ones would release them twice."""
    if not keys:
        return
    reason = "clusterbench: the repeat ran past its deadline"
    client._send_to_scheduler({"op": "cancel-keys", "keys": keys, "force": True,
                               "reason": reason, "msg": reason})
    for key in keys:
        state = client.futures.get(key)
        if state is not None:
            state.cancel(reason=reason, msg=reason)


def kill_processes(processes: Iterable[Any]) -> None:
    """SIGKILL pool processes (``multiprocessing.Process``) stuck in a repeat."""
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()


__all__ = ["CANCEL_GRACE_SECONDS", "DEADLINE_FACTOR", "MIN_DEADLINE_SECONDS", "Deadline",
           "DeadlineExceeded", "SchedulerLost", "cancel_client_work", "kill_processes",
           "repeat_deadline", "run_guarded", "scheduler_address", "scheduler_lost",
           "scheduler_unreachable"]
