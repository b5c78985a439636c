"""The queue launcher against a real single-node SLURM (see tests/fixtures/slurm.py).

Everything binds to loopback: the scheduler (``host=127.0.0.1``) and the
workers inside the jobs (``--host 127.0.0.1``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from distributed import Client, Scheduler
from distributed.deploy import SpecCluster

from clusterbench.errors import LaunchError
from clusterbench.launchers.base import SpecContext
from clusterbench.launchers.jobqueue import SLURM, QueueHost, pending_error
from tests.fixtures.slurm import SlurmCluster  # the `slurm_cluster` fixture comes via conftest

pytestmark = [pytest.mark.integration, pytest.mark.root]

CONTEXT = SpecContext(cluster="it")
SCHEDULER = {
    "cls": Scheduler,
    # An explicit loopback port 0 for the HTTP server: the default would take 8787.
    "options": {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0", "dashboard": False},
}
DEADLINE = 60.0


def _host(tmp_path: Path, **fields: object) -> QueueHost:
    """A SLURM host whose workers listen on loopback and log into *tmp_path*."""
    defaults = {
        "name": "hpc",
        "launcher": "slurm",
        "cores": 1,
        "memory": "1GB",
        "queue": "debug",
        "walltime": "00:10:00",
        "python": sys.executable,
        "log_directory": str(tmp_path / "logs"),
        "worker_extra_args": ("--host", "127.0.0.1", "--no-dashboard"),
    }
    return QueueHost(**{**defaults, **fields})


async def _wait_workers(cluster: SpecCluster, count: int) -> set[str]:
    """Names of the workers registered with the scheduler once there are *count*."""
    deadline = time.monotonic() + DEADLINE
    while len(cluster.scheduler.workers) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{len(cluster.scheduler.workers)} of {count} workers after {DEADLINE} s")
        await asyncio.sleep(0.1)
    return {ws.name for ws in cluster.scheduler.workers.values()}


def _assert_gone(slurm: SlurmCluster, job_ids: list[str]) -> None:
    """Poll squeue until none of *job_ids* is listed (COMPLETING lasts a moment)."""
    deadline = time.monotonic() + 20
    while set(job_ids) & set(slurm.job_ids()):
        assert time.monotonic() < deadline, f"jobs left: {slurm.jobs()}"
        time.sleep(0.2)


def test_srun_hostname(slurm_cluster: SlurmCluster) -> None:
    assert slurm_cluster.run("srun", "hostname").stdout.strip() == slurm_cluster.node


def test_two_jobs_register_compute_and_are_cancelled(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    host = _host(tmp_path, jobs=2)

    async def scenario() -> list[str]:
        specs = SLURM.worker_specs(host, CONTEXT)
        async with SpecCluster(scheduler=SCHEDULER, workers=specs, asynchronous=True) as cluster:
            names = await _wait_workers(cluster, 2)
            assert names == {slot.name for slot in SLURM.slots(host, CONTEXT)}
            job_ids = [cluster.workers[name].job_id for name in specs]
            queued = slurm_cluster.jobs()
            assert [queued.get(job) for job in job_ids] == ["RUNNING", "RUNNING"]
            states = SLURM.job_state(host, job_ids)
            assert {state.state for state in states.values()} == {"RUNNING"}
            assert {state.node for state in states.values()} == {slurm_cluster.node}
            async with Client(cluster, asynchronous=True) as client:
                futures = client.map(lambda x: x * x, range(10))
                assert sum(await client.gather(futures)) == 285
        return job_ids

    job_ids = asyncio.run(scenario())
    _assert_gone(slurm_cluster, job_ids)
    assert SLURM.job_state(host, job_ids) == {}


def test_processes_in_one_job_register_under_slot_names(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    host = _host(tmp_path, jobs=1, cores=2, processes=2)

    async def scenario() -> list[str]:
        specs = SLURM.worker_specs(host, CONTEXT)
        async with SpecCluster(scheduler=SCHEDULER, workers=specs, asynchronous=True) as cluster:
            names = await _wait_workers(cluster, 2)
            assert names == {slot.name for slot in SLURM.slots(host, CONTEXT)}
            assert names == {"it-hpc-0-0", "it-hpc-0-1"}
            threads = {ws.nthreads for ws in cluster.scheduler.workers.values()}
            assert threads == {1}
            return [job.job_id for job in cluster.workers.values()]

    job_ids = asyncio.run(scenario())
    assert len(job_ids) == 1
    _assert_gone(slurm_cluster, job_ids)


def test_rejected_job_fails_start_with_sbatch_stderr(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    host = _host(tmp_path, queue="nosuchpartition")
    before = set(slurm_cluster.job_ids())

    async def scenario() -> None:
        specs = SLURM.worker_specs(host, CONTEXT)
        async with SpecCluster(scheduler=SCHEDULER, workers=specs, asynchronous=True):
            pass

    with pytest.raises(LaunchError, match="invalid partition") as failure:
        asyncio.run(scenario())
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("it-hpc-0: command 'sbatch ")
    assert set(slurm_cluster.job_ids()) <= before


def test_unsatisfiable_job_pends_with_reason(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    # More CPUs than the node has: sbatch accepts it, SLURM keeps it pending forever.
    host = _host(tmp_path, cores=slurm_cluster.cpus + 1)

    async def scenario() -> tuple[dict, list[str]]:
        specs = SLURM.worker_specs(host, CONTEXT)
        async with SpecCluster(scheduler=SCHEDULER, workers=specs, asynchronous=True) as cluster:
            job_ids = [job.job_id for job in cluster.workers.values()]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                states = SLURM.job_state(host, job_ids)
                if any(state.reason for state in states.values()):
                    break
                await asyncio.sleep(0.2)
        _assert_gone(slurm_cluster, job_ids)
        return states, job_ids

    states, job_ids = asyncio.run(scenario())
    assert [state.state for state in states.values()] == ["PENDING"]
    message = str(pending_error(host, states, waited=20, job_ids=job_ids))
    expected = f"job {job_ids[0]} PENDING (PartitionConfig)"
    assert message == f"host 'hpc': workers not registered after 20 s: {expected}"
