"""A site's dask-jobqueue configuration on a real SLURM: an inventory host of just ``name``
and ``launcher: slurm`` takes cores, memory, queue, walltime, python, directives, worker
arguments and log directory from ``DASK_CONFIG``'s ``jobqueue.yaml``, and starts workers."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from clusterbench.cluster.lifecycle import state_dir
from tests.fixtures.slurm import LOOPBACK_WORKER
from tests.helpers import cli, stop_any_cluster

pytestmark = [pytest.mark.integration, pytest.mark.root]


@pytest.fixture(autouse=True)
def down_after(slurm_cluster):
    yield
    stop_any_cluster()
    slurm_cluster.wait_no_jobs()


def test_up_with_only_the_sites_jobqueue_config(slurm_cluster, tmp_path):
    config = tmp_path / "dask"
    config.mkdir()
    (config / "jobqueue.yaml").write_text(yaml.safe_dump({"jobqueue": {"slurm": {
        "cores": 2, "processes": 2, "memory": "2GB", "queue": slurm_cluster.partition,
        "walltime": "00:07:00", "python": sys.executable,
        "job-extra-directives": ["--comment=from-site-config"],
        "worker-extra-args": LOOPBACK_WORKER, "log-directory": str(tmp_path / "logs"),
    }}}))
    inventory = tmp_path / "site.yml"
    inventory.write_text(yaml.safe_dump({"cluster": "site", "scheduler": {"address": "127.0.0.1"},
                                         "hosts": [{"name": "hpc", "launcher": "slurm"}]}))
    env = {"DASK_CONFIG": str(config)}
    source = f"dask config {config / 'jobqueue.yaml'}"

    check = cli("inventory", "check", str(inventory), env=env)
    assert check.returncode == 0, check.stderr
    text = " ".join(check.stdout.split())
    for line in (f"cores 2 ({source})", f"processes 2 ({source})", f"walltime 00:07:00 ({source})",
                 f"queue {slurm_cluster.partition} ({source})", "OK, 1 hosts, 2 workers"):
        assert line in text, check.stdout

    up = cli("up", str(inventory), "--timeout", "120", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "site-hpc-0-0" in up.stdout and "site-hpc-0-1" in up.stdout  # 2 processes, 1 job
    jobs = slurm_cluster.jobs()
    assert list(jobs.values()) == ["RUNNING"], jobs
    (job,) = jobs
    script = slurm_cluster.run("scontrol", "write", "batch_script", job, "-").stdout
    for line in ("#SBATCH -t 00:07:00", f"#SBATCH -p {slurm_cluster.partition}",
                 "#SBATCH --cpus-per-task=2", "#SBATCH --comment=from-site-config",
                 f"{sys.executable} -m distributed.cli.dask_worker", "--nworkers 2"):
        assert line in script, script
    state = json.loads(next(state_dir().glob("cluster-site.json")).read_text())
    assert len(state["workers"]) == 2
    assert list((tmp_path / "logs").iterdir())  # the config's log-directory got the job log

    assert cli("down").returncode == 0
    assert slurm_cluster.wait_no_jobs() == []
    assert not slurm_cluster.jobs()
