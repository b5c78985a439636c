"""`up` / `status` / `down` on 16 lab hosts (issue 16): `down` is concurrent and bounded,
never slower than `up`, shows its time split with --debug, and leaves no process of the
session on any host (checked with `ip netns pids` and every process's command line).

16 × 0.12 CPU = 1.92 of the machine's 2 cores: each fake host has a share of its own and
the test stays well under 90 s (0.06 CPU per host, as in the issue's 32-host numbers,
doubles `up`'s time; tests/benchmarks/teardown_ssh.py measures that).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest

from clusterbench.cluster.lifecycle import pid_alive, read_state, state_dir
from clusterbench.lab import processes_in
from clusterbench.launchers.ssh import session_dir
from tests.fixtures.lab import make_lab
from tests.helpers import cli

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.usefixtures("down_after")]
SPEC = "node:16x0.12cpu/256MB"
HOSTS = 16


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, SPEC, ready_timeout=60.0)


def _session_processes(tag: str) -> list[str]:
    """Command lines of every process on this machine (lab hosts share its PID space)
    that carry the session's tag."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or ())
        if tag in line:
            found.append(f"{process.pid}: {line[:120]}")
    return found


def _extra_in_lab(lab) -> dict[str, list[int]]:
    """Processes in the hosts' namespaces other than their sshd listeners."""
    listeners = {h.sshd_pid for h in lab.hosts}
    return {name: [p for p in pids if p not in listeners]
            for name, pids in processes_in(lab).items()
            if any(p not in listeners for p in pids)}


def test_up_status_down_on_16_hosts_leaves_nothing_and_down_is_not_slower(lab):
    started = time.monotonic()
    up = cli("up", lab.inventory, "--timeout", "240", timeout=400)
    up_seconds = time.monotonic() - started
    assert up.returncode == 0, up.stderr
    state = read_state(next(state_dir().glob("cluster-lab.json")))
    assert len(state.workers) == HOSTS

    status = cli("status", "--json")
    assert status.returncode == 0, status.stderr
    (cluster,) = json.loads(status.stdout)["clusters"]
    assert sorted(w["name"] for w in cluster["workers"]) == sorted(h.name + "-0"
                                                                   for h in lab.hosts)

    started = time.monotonic()
    down = cli("--debug", "down", timeout=300)
    down_seconds = time.monotonic() - started
    print(f"16 hosts ({SPEC}): up {up_seconds:.1f} s, down {down_seconds:.1f} s; "
          f"{down.stderr.strip()}")
    assert down.returncode == 0, down.stderr
    assert "could not" not in down.stderr
    assert "outlived close" not in down.stderr  # every worker was gone before the sweep
    assert "close workers" in down.stderr and "leftover sweep" in down.stderr  # --debug
    assert not pid_alive(state.pid)
    # Right when `down` returns: nothing of the session on any host.
    assert _session_processes(session_dir(state.session)) == []
    # The hosts' sshd children of the daemon's connections end as the daemon exits.
    deadline = time.monotonic() + 10
    while _extra_in_lab(lab) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _extra_in_lab(lab) == {}
    assert not Path(session_dir(state.session)).exists()  # the scratch dir is removed
    assert down_seconds <= up_seconds, (down_seconds, up_seconds)
