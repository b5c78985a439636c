"""Many queue workers on a real single-node SLURM declared with 32 CPUs: `up` with 32
one-core jobs, `status` with every job's state, `down` with squeue empty; and `jobs:`
above the site's submit limit (``max_jobs``) refused before one job is submitted."""

from __future__ import annotations

import os
import time

import pytest

from tests.fixtures.daemons import unavailable
from tests.fixtures.slurm import missing_binaries, running_slurm, slurm_inventory
from tests.helpers import cli, stop_any_cluster
from tests.integration.test_slurm_status import table

pytestmark = [pytest.mark.integration, pytest.mark.root]

JOBS = 32
#: 32 interpreters importing distributed on 2 cores: about a minute under load.
UP_TIMEOUT = 240


@pytest.fixture(scope="module")
def slurm32():
    """A private SLURM whose node declares 32 CPUs (``config_overrides``) and memory for
    32 small jobs, so all of them run at once."""
    missing = missing_binaries()
    if missing or os.geteuid() != 0:
        unavailable("slurm", f"needs root and SLURM ({', '.join(missing) or 'not root'})")
    with running_slurm(cpus=JOBS, real_memory=JOBS * 256 + 1024) as slurm:
        yield slurm


@pytest.fixture
def env(slurm32, monkeypatch):
    """SLURM_CONF of the 32-CPU cluster for clusterbench's commands; down afterwards."""
    monkeypatch.setenv("SLURM_CONF", str(slurm32.conf))
    yield slurm32.env
    stop_any_cluster()
    assert slurm32.wait_no_jobs(timeout=30) == []


def test_32_jobs_up_status_down(slurm32, env, tmp_path):
    path = slurm_inventory(tmp_path, slurm32, jobs=JOBS, memory="200MB")
    start = time.perf_counter()
    up = cli("up", str(path), "--timeout", str(UP_TIMEOUT), env=env)
    up_seconds = time.perf_counter() - start
    assert up.returncode == 0, up.stderr
    queued = slurm32.jobs()
    assert len(queued) == JOBS and set(queued.values()) == {"RUNNING"}, queued

    status = cli("status", env=env)
    assert status.returncode == 0, status.stderr
    rows = table(status.stdout)
    jobs = {name: row for name, row in rows.items() if name.startswith("hpc-hpc-")}
    assert sorted(jobs) == sorted(f"hpc-hpc-{i}" for i in range(JOBS)), sorted(rows)
    assert sorted(row["job"] for row in jobs.values()) == sorted(queued)
    assert {(row["status"], row["queue state"], row["node"]) for row in jobs.values()} \
        == {("running", "RUNNING", slurm32.node)}

    start = time.perf_counter()
    down = cli("down", env=env)
    down_seconds = time.perf_counter() - start
    assert down.returncode == 0, down.stderr
    assert slurm32.wait_no_jobs(timeout=30) == []
    print(f"32 SLURM jobs: up {up_seconds:.1f} s, down {down_seconds:.1f} s, "
          f"load {os.getloadavg()[0]:.1f}")


def test_jobs_above_max_jobs_are_refused_before_submitting(slurm32, env, tmp_path):
    path = slurm_inventory(tmp_path, slurm32, jobs=JOBS + 8, max_jobs=JOBS)
    up = cli("up", str(path), env=env)
    assert up.returncode != 0
    message = up.stderr.strip().splitlines()[-1]
    assert f"{path.name}: hosts[0] 'hpc': jobs {JOBS + 8} is above max_jobs {JOBS}" in message, \
        up.stderr
    assert slurm32.job_ids() == []  # nothing was submitted
    check = cli("inventory", "check", str(path), env=env)
    assert check.returncode != 0 and f"is above max_jobs {JOBS}" in check.stderr
