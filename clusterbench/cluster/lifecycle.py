"""``up`` / ``status`` / ``down``: a detached process owns the cluster.

``up`` spawns ``python -m clusterbench.cluster.daemon`` in its own session.
The daemon starts the :class:`InventoryCluster`, writes the state file
(address, dashboard, workers, PIDs) and waits for SIGTERM; on SIGTERM it
closes the cluster (stopping every worker on every host), checks that no
process of the session is left on any host, removes the state file and
exits.  The state file is created exclusively, so a second ``up`` of the same
cluster refuses while the first is alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from clusterbench import osutil
from clusterbench.cluster import state as cluster_state
from clusterbench.cluster.state import FAILED, READY, STARTING, ClusterState
from clusterbench.constants import COULD_NOT_CHECK as COULD_NOT_CHECK  # the launchers write it
from clusterbench.errors import LaunchError, StateError

POLL = 0.1


def state_dir() -> Path:
    """:func:`clusterbench.osutil.state_root`, created if missing."""
    path = osutil.state_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_file(cluster: str) -> Path:
    """Where the daemon of *cluster* writes its state."""
    return state_dir() / f"cluster-{cluster}.json"




def down_file(path: Path) -> Path:
    """Where the daemon leaves its last word (leftover processes) when it stops."""
    return path.with_name(path.name.replace("cluster-", "down-", 1))


def read_state(path: Path) -> ClusterState | None:
    """The state at *path* (None: no such file); see :func:`.state.read`.

    Raises
    ------
    StateError
        The file is not a cluster state this clusterbench reads.
    """
    return cluster_state.read(path)


def write_state(path: Path, state: ClusterState) -> None:
    """Atomically replace the state file (a reader never sees half of it)."""
    cluster_state.write(path, state)


#: True when a PID exists and is not a zombie (psutil; command names may contain spaces).
pid_alive = osutil.pid_alive


def claim(cluster: str, inventory_path: str) -> Path:
    """Create the state file exclusively, or refuse if a live daemon owns it."""
    path = state_file(cluster)
    if cluster_state.create(path, ClusterState(cluster, STARTING, inventory=inventory_path)):
        return path
    state = read_state(path)
    if state is not None and (pid_alive(state.pid)
                              or state.status == STARTING and _fresh(path)):
        raise StateError(
            f"cluster {cluster!r} is already up (pid {state.pid}, from "
            f"{state.inventory}); run 'clusterbench down' first"
        )
    path.unlink(missing_ok=True)  # a daemon that died without cleaning up
    return claim(cluster, inventory_path)


def _fresh(path: Path, seconds: float = 30.0) -> bool:
    return time.time() - path.stat().st_mtime < seconds


def spawn_daemon(inventory_path: str, path: Path, timeout: float, insecure: bool = False,
                 groups: tuple[str, ...] = (), limit: str | None = None) -> int:
    """Start the detached daemon (*groups*/*limit*: an Ansible inventory's selected hosts);
    its output goes to ``<state file>.log``."""
    log = open(path.with_suffix(".log"), "w", encoding="utf-8")  # noqa: SIM115 - child owns it
    selection = [arg for group in groups for arg in ("--group", group)] \
        + (["--limit", limit] if limit is not None else [])
    process = subprocess.Popen(
        [sys.executable, "-m", "clusterbench.cluster.daemon", inventory_path, str(path),
         str(timeout), *(["--insecure"] if insecure else []), *selection],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    return process.pid


def wait_ready(path: Path, pid: int, timeout: float) -> ClusterState:
    """Poll the state file until the daemon reports ready or failed (or dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(path)
        if state is not None and state.status == READY:
            return state
        if state is not None and state.status == FAILED:
            _reap(pid)  # the daemon stops what it started before it exits
            path.unlink(missing_ok=True)
            raise LaunchError(state.error or "the cluster failed to start")
        if not pid_alive(pid):
            path.unlink(missing_ok=True)
            tail = _log_tail(path)
            raise LaunchError(f"the cluster daemon exited before it was ready: {tail}")
        time.sleep(POLL)
    stop(path, grace=30.0)
    raise LaunchError(f"the cluster was not ready within {timeout:g} s; everything was stopped")


def _log_tail(path: Path) -> str:
    """The daemon log's last lines on one line; of a traceback only the exception line
    (frames and source lines are no message for a user) and where the whole log is."""
    log = path.with_suffix(".log")
    try:
        lines = [line for line in log.read_text(errors="replace").strip().splitlines()
                 if line.strip()]
    except OSError:
        return "(no log)"
    if any(line.startswith("Traceback") for line in lines):
        last = next(line for line in reversed(lines) if not line[:1].isspace())
        return f"{last.strip()} (full log: {log})"
    return " | ".join(lines[-3:]) or "(empty log)"


def _reap(pid: int, grace: float = 30.0) -> None:
    deadline = time.monotonic() + grace
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL)


def running_states() -> list[tuple[Path, ClusterState]]:
    """State files of clusters whose daemon is alive, or that `up` has just claimed.

    Between ``up`` claiming the state file and the daemon's first write (about a
    second: the daemon's imports) there is no PID yet; such a fresh claim counts
    as a cluster that is starting, so ``status`` does not say "no cluster is up".
    """
    states = [(p, read_state(p)) for p in sorted(state_dir().glob("cluster-*.json"))]
    return [(p, s) for p, s in states
            if s is not None and (pid_alive(s.pid) or _just_claimed(p, s))]


def _just_claimed(path: Path, state: ClusterState) -> bool:
    return state.status == STARTING and state.pid is None and _fresh(path)


def running_cluster_address() -> str:
    """Scheduler address of the one running cluster (for ``run --attach``)."""
    address = running_cluster().address
    assert address is not None  # running_cluster() refuses a state without one
    return address


def running_cluster() -> ClusterState:
    """The state of the one running, ready cluster (for ``run --attach``)."""
    states = running_states()
    if not states:
        raise StateError("no cluster is up; run 'clusterbench up INVENTORY' first")
    if len(states) > 1:
        names = ", ".join(s.cluster for _, s in states)
        raise StateError(f"several clusters are up ({names}); use --scheduler-address")
    state = states[0][1]
    if not state.address:
        raise StateError(f"cluster {state.cluster!r} is still starting; "
                         "wait for 'clusterbench up' to return")
    return state


def state_for_address(address: str) -> ClusterState | None:
    """The state of the running cluster `up` started at *address* (None: not ours)."""
    return next((state for _, state in running_states() if state.address == address), None)


def worker_hosts(state: ClusterState | None) -> dict[str, str]:
    """``{worker name: inventory host}`` of a cluster `up` started (empty for None), so
    that an attached sweep names hosts as the inventory does, not by their addresses.

    Only hosts that are one machine: a queue's jobs land on nodes the inventory does not
    name, and three nodes under one queue's name would read as one host; their workers
    keep the address the scheduler knows."""
    if state is None:
        return {}
    queued = {name for job in state.queue_jobs for name in job["workers"]}
    return {row["name"]: row["host"] for row in state.workers if row["name"] not in queued}


def cluster_security(state: ClusterState) -> Any:
    """The distributed ``Security`` a client of the cluster in *state* needs (None for a
    plain-TCP cluster).

    Raises
    ------
    StateError
        The cluster runs over TLS but its certificate files are gone.
    """
    from clusterbench.cluster.security import load_credentials

    if not state.tls_dir:
        return None
    credentials = load_credentials(state.tls_dir)
    if credentials is None:
        raise StateError(f"cluster {state.cluster!r} uses TLS but its "
                         f"certificate files in {state.tls_dir} are gone; "
                         "run 'clusterbench down' and 'up' again")
    return credentials.security()


def stop(path: Path, grace: float = 60.0) -> ClusterState:
    """SIGTERM the daemon, wait for it to stop the cluster, SIGKILL past *grace*.

    Returns the last state (``leftovers`` None when the daemon did not get to check).

    Raises
    ------
    StateError
        *path* is not a state this clusterbench reads (nothing is stopped).
    """
    state = claimed_state(path)
    pid = state.pid
    last_word = down_file(path)
    last_word.unlink(missing_ok=True)  # an earlier session's word is not this one's
    if pid is not None and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        _reap(pid, grace)
        if pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    final = _last_word(last_word) or state
    if final.session != state.session:
        final = state
    for worker_pid in state.local_pids:
        if pid_alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
    _remove_credentials(state)
    path.unlink(missing_ok=True)
    return final


def claimed_state(path: Path) -> ClusterState:
    """The state at *path*, or a bare one named after the file (``cluster-<name>.json``)
    when the file is gone.

    Raises
    ------
    StateError
        *path* is not a state this clusterbench reads.
    """
    return read_state(path) or ClusterState(path.stem.removeprefix("cluster-"))


def _last_word(path: Path) -> ClusterState | None:
    """The down file; None when absent or unreadable (an unreadable last word only costs
    the leftover check, which `down` then runs itself)."""
    try:
        return read_state(path)
    except StateError:
        return None


def _remove_credentials(state: ClusterState) -> None:
    """The daemon removes its TLS files when it stops; a daemon SIGKILLed cannot."""
    import shutil

    tls_dir = state.tls_dir
    if tls_dir and Path(tls_dir).name.startswith("tls-"):
        shutil.rmtree(tls_dir, ignore_errors=True)
