"""`clusterbench up/run/down` against a real single-node SLURM (munge + slurmctld + slurmd)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterbench.cluster.lifecycle import state_dir
from tests.fixtures.slurm import slurm_inventory
from tests.helpers import cli, only_records, run_attached, stop_any_cluster

pytestmark = [pytest.mark.integration, pytest.mark.root]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def down_after(slurm_cluster):
    yield
    stop_any_cluster()
    slurm_cluster.wait_no_jobs()


def test_up_run_down_on_slurm(slurm_cluster, tmp_path):
    up = cli("up", str(slurm_inventory(tmp_path, slurm_cluster)))
    assert up.returncode == 0, up.stderr
    assert "hpc-hpc-0" in up.stdout and "hpc-hpc-1" in up.stdout
    running = slurm_cluster.jobs()
    assert sorted(running.values()) == ["RUNNING", "RUNNING"], running

    results = tmp_path / "results"
    records = run_attached(results)
    assert [len(r["worker_names"]) for r in records] == [1, 2]
    assert all(r["verified"] for r in records)

    assert cli("down").returncode == 0
    slurm_cluster.wait_no_jobs()
    assert not slurm_cluster.jobs()


def test_mixed_local_and_slurm_sweep(slurm_cluster, tmp_path):
    results = tmp_path / "results"
    run = cli("run", "scaling", "-i", str(slurm_inventory(tmp_path, slurm_cluster, local=1)),
              "--size", "tiny", "--workloads", "montecarlo", "--schedulers", "distributed",
              "--workers", "1..max", "--repeats", "1", "--results-dir", str(results))
    assert run.returncode == 0, run.stderr
    records = only_records(results)
    assert [tuple(r["worker_hosts"]) for r in records] == [
        ("laptop",), ("laptop", "hpc"), ("laptop", "hpc", "hpc")]
    assert all(r["verified"] for r in records)
    # every worker, the SLURM jobs' included, was fingerprinted and calibrated on itself
    (run_dir,) = results.iterdir()
    hosts = json.loads((run_dir / "environment.json").read_text())["hosts"]
    assert sorted(hosts) == ["hpc", "laptop"]
    assert len(hosts["hpc"]["workers"]) == 2 and len(hosts["laptop"]["workers"]) == 1
    assert all(w["capacity"] > 0 and w["alone_rate"] > 0
               for h in hosts.values() for w in h["workers"].values())
    assert all(h["fingerprint"]["packages"]["distributed"] for h in hosts.values())
    assert all(sorted(r["executed_workers"]) == sorted(r["worker_names"]) for r in records)
    slurm_cluster.wait_no_jobs()
    assert not slurm_cluster.jobs()


def test_bad_partition_carries_sbatch_stderr_and_leaves_nothing(slurm_cluster, tmp_path):
    up = cli("up", str(slurm_inventory(tmp_path, slurm_cluster, queue="nosuchpartition")))
    assert up.returncode == 3
    line = up.stderr.strip().splitlines()[-1]
    assert "invalid partition" in line.lower() and "Traceback" not in up.stderr
    assert not slurm_cluster.jobs()
    assert not list(state_dir().glob("cluster-*.json"))


def test_jobs_that_never_start_time_out_with_the_queue_reason(slurm_cluster, tmp_path):
    path = slurm_inventory(tmp_path, slurm_cluster, job_extra_directives=["--cpus-per-task=64"])
    up = cli("up", str(path), "--timeout", "8")
    assert up.returncode == 3, up.stdout + up.stderr
    line = up.stderr.strip().splitlines()[-1]
    assert "did not register" in line and "PENDING" in line, line
    slurm_cluster.wait_no_jobs()
    assert not slurm_cluster.jobs()


def test_dry_run_prints_job_scripts_and_submits_nothing(slurm_cluster, tmp_path):
    dry = cli("up", str(slurm_inventory(tmp_path, slurm_cluster)), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("#SBATCH -p debug") == 2
    assert not slurm_cluster.jobs()
