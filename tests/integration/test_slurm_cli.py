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
    # TLS on real SLURM: the job scripts name the cluster's files in the state directory
    # (storage the compute node shares), the jobs' workers registered over tls://, and a
    # plain-TCP client is refused.
    state = json.loads(next(state_dir().glob("cluster-*.json")).read_text())
    assert state["security"] == "tls" and state["address"].startswith("tls://")
    assert all(w["address"].startswith("tls://") for w in state["workers"])
    scripts = _job_scripts(slurm_cluster)
    assert any(f"--tls-ca-file {state['tls_dir']}/ca.pem" in text for text in scripts)
    assert _refused(state["address"].replace("tls://", "tcp://"))

    results = tmp_path / "results"
    records = run_attached(results)
    assert [len(r["worker_names"]) for r in records] == [1, 2]
    assert all(r["verified"] for r in records)

    assert cli("down").returncode == 0
    slurm_cluster.wait_no_jobs()
    assert not slurm_cluster.jobs()
    assert not Path(state["tls_dir"]).exists()


def _job_scripts(slurm_cluster) -> list[str]:  # noqa: ANN001
    """The batch scripts of the cluster's running jobs, as SLURM stored them."""
    return [slurm_cluster.run("scontrol", "write", "batch_script", job, "-").stdout
            for job in slurm_cluster.jobs()]


def _refused(address: str) -> bool:
    from distributed import Client

    try:
        with Client(address, timeout=5):
            return False
    except Exception:  # noqa: BLE001 - any refusal
        return True


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
    # Who really ran: planned workers only.  montecarlo[tiny] has 3 tasks and dask's queuing
    # gives a 1-thread worker up to 2 (worker-saturation 1.1), so not every worker need run one.
    assert all(r["executed_workers"] and set(r["executed_workers"]) <= set(r["worker_names"])
               for r in records)
    slurm_cluster.wait_no_jobs()
    assert not slurm_cluster.jobs()


def test_bad_partition_carries_sbatch_stderr_and_leaves_nothing(slurm_cluster, tmp_path):
    up = cli("up", str(slurm_inventory(tmp_path, slurm_cluster, queue="nosuchpartition")))
    assert up.returncode == 3
    line = up.stderr.strip().splitlines()[-1]
    assert "invalid partition" in line.lower() and "Traceback" not in up.stderr
    assert not slurm_cluster.jobs()
    assert not list(state_dir().glob("cluster-*.json"))


def test_doctor_checks_the_submit_program_and_the_partition(slurm_cluster, tmp_path):
    good = cli("doctor", "-i", str(slurm_inventory(tmp_path, slurm_cluster)))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "hpc" in good.stdout and "FAIL" not in good.stdout
    bad = cli("doctor", "-i", str(slurm_inventory(tmp_path, slurm_cluster, queue="nosuch")))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    text = " ".join(bad.stdout.split())  # the table wraps long cells
    assert "FAIL" in text and "queue 'nosuch' is not known to slurm" in text, text
    assert "not found" in text.lower() and not slurm_cluster.jobs()


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


def test_sigterm_to_a_managed_slurm_sweep_cancels_its_jobs(slurm_cluster, tmp_path):
    """SIGTERM (a CI timeout, `kill`) to a sweep whose workers are SLURM jobs: exit 143,
    the records so far kept, and every job gone from the queue within 10 s."""
    import signal
    import subprocess
    import sys
    import time

    results = tmp_path / "results"
    run = subprocess.Popen(
        [sys.executable, "-m", "clusterbench", "run", "scaling", "-i",
         str(slurm_inventory(tmp_path, slurm_cluster)), "--size", "small", "--workloads",
         "montecarlo", "--schedulers", "distributed", "--workers", "1,2", "--repeats", "20",
         "--results-dir", str(results)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not list(results.glob("*/records.jsonl")):
            assert run.poll() is None, run.communicate()
            time.sleep(0.2)
        assert slurm_cluster.job_ids(), "the sweep's workers run as SLURM jobs"
        run.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, stderr = run.communicate(timeout=60)
        left = slurm_cluster.wait_no_jobs(timeout=max(0.1, 10 - (time.monotonic() - sent)))
    finally:
        if run.poll() is None:
            run.kill()
    print(f"SIGTERM to a SLURM sweep: exit after {time.monotonic() - sent:.1f} s")
    assert run.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert not left, f"jobs left in the queue 10 s after SIGTERM: {left}"
    assert list(results.glob("*/records.jsonl"))[0].read_text().strip()
