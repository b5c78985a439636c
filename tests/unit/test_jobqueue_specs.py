"""Queue launcher specs and job scripts, rendered by dask-jobqueue's own Job classes (pure)."""

from __future__ import annotations

import asyncio
import shlex
import sys

import pytest
from dask_jobqueue.pbs import PBSJob
from dask_jobqueue.slurm import SLURMJob
from pydantic import ValidationError

from clusterbench.errors import CommandError, InventoryError, LaunchError
from clusterbench.launchers.base import SpecContext
from clusterbench.launchers.jobqueue import (
    DRY_RUN_SCHEDULER,
    HTCONDOR,
    LSF,
    PBS,
    QUEUES,
    SGE,
    SLURM,
    JobState,
    QueueHost,
    cancel,
    job_state,
    pending_error,
    preflight,
)
from clusterbench.launchers.registry import launcher_for

CONTEXT = SpecContext(cluster="lab")
EXPORTS = [
    "export OMP_NUM_THREADS=1",
    "export OPENBLAS_NUM_THREADS=1",
    "export MKL_NUM_THREADS=1",
    "export FOO='a b'",
]


def _host(launcher: str = "slurm", **fields: object) -> QueueHost:
    values = {
        "name": "hpc",
        "launcher": launcher,
        "jobs": 2,
        "cores": 4,
        "processes": 2,
        "memory": "8GB",
        "queue": "debug",
        "account": "acct",
        "walltime": "01:00:00",
        "python": "/opt/venv/bin/python",
        "env": {"FOO": "a b"},
        "job_script_prologue": ("module load python",),
        "job_extra_directives": ("--exclusive",),
    }
    return QueueHost(**{**values, **fields})


def _script(launcher: str = "slurm", **fields: object) -> str:
    return QUEUES[launcher].job_scripts(_host(launcher, **fields), CONTEXT)[0]


def _directives(script: str, prefix: str) -> set[str]:
    return {line for line in script.splitlines() if line.startswith(prefix)}


def _command(script: str) -> list[str]:
    return shlex.split(script.strip().splitlines()[-1])


def _option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_registry_resolves_every_queue_launcher() -> None:
    for kind, launcher in QUEUES.items():
        assert launcher_for(kind) is launcher
        assert launcher.name == kind


def test_slurm_header() -> None:
    assert _directives(_script("slurm"), "#SBATCH") == {
        "#SBATCH -J cb-lab",
        "#SBATCH -p debug",
        "#SBATCH -A acct",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=8G",
        "#SBATCH -t 01:00:00",
        "#SBATCH --exclusive",
    }


def test_pbs_header() -> None:
    assert _directives(_script("pbs"), "#PBS") == {
        "#PBS -N cb-lab",
        "#PBS -q debug",
        "#PBS -A acct",
        "#PBS -l select=1:ncpus=4:mem=7630MB",
        "#PBS -l walltime=01:00:00",
        "#PBS --exclusive",
    }


def test_sge_header_uses_project_for_account() -> None:
    assert _directives(_script("sge"), "#$") == {
        "#$ -N cb-lab",
        "#$ -q debug",
        "#$ -P acct",
        "#$ -l h_rt=01:00:00",
        "#$ -cwd",
        "#$ -j y",
        "#$ --exclusive",
    }


def test_lsf_header_uses_project_and_hours_minutes() -> None:
    header = _directives(_script("lsf", walltime="00:30:20"), "#BSUB")
    assert {
        "#BSUB -J cb-lab",
        "#BSUB -q debug",
        '#BSUB -P "acct"',
        "#BSUB -n 4",
        '#BSUB -R "span[hosts=1]"',
        "#BSUB -W 00:31",
        "#BSUB --exclusive",
    } <= header
    # The unit of -M depends on the site's lsf.conf; only its presence is ours.
    assert any(line.startswith("#BSUB -M ") for line in header)


def test_htcondor_gets_a_dict_of_directives_and_a_disk() -> None:
    host = _host(
        "htcondor", queue=None, account=None, walltime=None, job_extra_directives=("+Foo = 1",)
    )
    script = HTCONDOR.job_scripts(host, CONTEXT)[0]
    lines = set(script.splitlines())
    assert {"+Foo = 1", "MY.DaskWorkerDisk = 1000000000", "MY.DaskWorkerCores = 4"} <= lines
    # HTCondor has no prologue section: dask-jobqueue chains it into the command.
    assert "export OMP_NUM_THREADS=1; " in script
    assert "module load python; " in script


@pytest.mark.parametrize("launcher", ["slurm", "pbs", "sge", "lsf"])
def test_exports_then_prologue_then_worker(launcher: str) -> None:
    lines = _script(launcher).strip().splitlines()
    body = lines[lines.index(EXPORTS[0]) :]
    assert body[: len(EXPORTS) + 1] == [*EXPORTS, "module load python"]
    assert body[-1].startswith("/opt/venv/bin/python -m distributed.cli.dask_worker ")


def test_worker_command_matches_cores_processes_memory() -> None:
    argv = _command(_script("slurm"))
    assert argv[:4] == [
        "/opt/venv/bin/python",
        "-m",
        "distributed.cli.dask_worker",
        DRY_RUN_SCHEDULER,
    ]
    assert _option(argv, "--name") == "lab-hpc-0"
    assert _option(argv, "--nthreads") == "2"
    assert _option(argv, "--nworkers") == "2"
    assert _option(argv, "--memory-limit") == "3.73GiB"  # 8 GB / 2, as dask-jobqueue formats it
    assert "--nanny" in argv


def test_single_process_job_has_no_nworkers_and_no_group() -> None:
    host = _host(cores=2, processes=1, worker_extra_args=("--no-dashboard",))
    argv = _command(SLURM.job_scripts(host, CONTEXT)[0])
    assert "--nworkers" not in argv
    assert _option(argv, "--nthreads") == "2"
    assert argv[-1] == "--no-dashboard"
    assert all("group" not in spec for spec in SLURM.worker_specs(host, CONTEXT).values())
    assert [slot.name for slot in SLURM.slots(host, CONTEXT)] == ["lab-hpc-0", "lab-hpc-1"]


def test_spec_names_groups_and_slots() -> None:
    host = _host()
    specs = SLURM.worker_specs(host, CONTEXT)
    assert list(specs) == ["lab-hpc-0", "lab-hpc-1"]
    for spec in specs.values():
        assert issubclass(spec["cls"], SLURMJob)
        assert spec["group"] == ["-0", "-1"]
        assert "name" not in spec["options"]  # SpecCluster passes the spec name
    slots = SLURM.slots(host, CONTEXT)
    assert [slot.name for slot in slots] == [
        "lab-hpc-0-0",
        "lab-hpc-0-1",
        "lab-hpc-1-0",
        "lab-hpc-1-1",
    ]
    assert {(slot.host, slot.threads) for slot in slots} == {("hpc", 2)}
    assert [slot.spec_name for slot in slots] == ["lab-hpc-0"] * 2 + ["lab-hpc-1"] * 2
    # Every slot is a name SpecCluster expects from the group suffixes.
    expected = {name + suffix for name, spec in specs.items() for suffix in spec["group"]}
    assert {slot.name for slot in slots} == expected


def test_options_map_inventory_fields() -> None:
    host = _host(interface="ib0", local_directory="/scratch", log_directory="/logs", python=None)
    options = SLURM.worker_specs(host, SpecContext(cluster="lab", session="s1"))["lab-hpc-0"][
        "options"
    ]
    assert options["python"] == sys.executable
    assert options["job_name"] == "cb-lab-s1"
    assert options["memory"] == "8GB"
    assert (options["cores"], options["processes"]) == (4, 2)
    assert (options["queue"], options["account"], options["walltime"]) == (
        "debug",
        "acct",
        "01:00:00",
    )
    assert (options["interface"], options["local_directory"], options["log_directory"]) == (
        "ib0",
        "/scratch",
        "/logs",
    )
    assert options["job_extra_directives"] == ["--exclusive"]
    assert options["job_script_prologue"] == [*EXPORTS, "module load python"]


def test_sge_and_lsf_take_account_as_project() -> None:
    for launcher in (SGE, LSF):
        options = launcher.job_options(_host(launcher.name), CONTEXT)
        assert options["project"] == "acct"
        assert "account" not in options
    assert PBS.job_options(_host("pbs"), CONTEXT)["account"] == "acct"


def test_default_memory_and_binary_sizes_are_exact() -> None:
    base = {"name": "hpc", "launcher": "slurm"}
    assert SLURM.job_options(QueueHost(**base), CONTEXT)["memory"] == "1GB"
    assert SLURM.job_options(QueueHost(**base, memory="512MiB"), CONTEXT)["memory"] == "512MiB"
    exact = 2**20 + 1234  # byte counts pass through (below 1 MiB is refused as a unit slip)
    assert SLURM.job_options(QueueHost(**base, memory=exact), CONTEXT)["memory"] == f"{exact}B"


def test_auto_memory_is_an_inventory_error() -> None:
    with pytest.raises(InventoryError, match="host 'hpc': memory must be a size"):
        SLURM.worker_specs(_host(memory="auto"), CONTEXT)


def test_bad_env_name_is_refused_by_the_model() -> None:
    with pytest.raises(ValidationError, match="'BAD-NAME' is not a variable name"):
        _host(env={"BAD-NAME": "1"})


def test_htcondor_rejects_fields_it_cannot_express() -> None:
    with pytest.raises(InventoryError, match="htcondor has no 'queue'"):
        HTCONDOR.worker_specs(_host("htcondor", account=None), CONTEXT)
    with pytest.raises(InventoryError, match="htcondor has no 'walltime'"):
        HTCONDOR.worker_specs(_host("htcondor", queue=None, account=None), CONTEXT)
    # The model's default walltime is not the user's choice: no error, no walltime.
    host = QueueHost(name="hpc", launcher="htcondor")
    assert "walltime" not in HTCONDOR.job_options(host, CONTEXT)


def test_job_scripts_take_the_scheduler_address() -> None:
    script = SLURM.job_scripts(_host(), CONTEXT, scheduler_address="tcp://10.0.0.1:8786")[1]
    argv = _command(script)
    assert argv[3] == "tcp://10.0.0.1:8786"
    assert _option(argv, "--name") == "lab-hpc-1"


def test_preflight_names_host_and_missing_binary(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LaunchError, match=r"host 'hpc': 'sbatch' not found on PATH"):
        preflight(_host())
    with pytest.raises(LaunchError, match="'condor_submit'"):
        HTCONDOR.preflight(_host("htcondor"))
    fake = tmp_path / "qsub"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    PBS.preflight(_host("pbs"))


def test_queue_state_and_cancel_of_no_jobs_run_nothing(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # any command would fail
    assert job_state(_host(), []) == {}
    cancel(_host(), [])


def test_parse_squeue() -> None:
    out = "12|RUNNING|None|vm\n13|PENDING|Resources|\n14|PENDING|ReqNodeNotAvail, Reserved|\n"
    assert SLURM.status.parse(out) == {
        "12": JobState("RUNNING", "", "vm"),
        "13": JobState("PENDING", "Resources", ""),
        "14": JobState("PENDING", "ReqNodeNotAvail, Reserved", ""),
    }
    assert SLURM.status.command(["12", "13"])[-1] == "12,13"


def test_parse_pbs_sge_lsf_condor() -> None:
    pbs = (
        "Job id            Name             User              Time Use S Queue\n"
        "----------------  ---------------- ----------------  -------- - -----\n"
        "1234.server       cb-lab           root              00:00:01 R workq\n"
        "1235.server       cb-lab           root                     0 Q workq\n"
    )
    assert PBS.status.parse(pbs) == {
        "1234": JobState("RUNNING", "", ""),
        "1235": JobState("PENDING", "", ""),
    }
    sge = (
        "job-ID  prior   name       user  state submit/start at     queue     slots ja-task-ID\n"
        "-------------------------------------------------------------------------------------\n"
        "      1 0.55500 cb-lab     root  r     11/22/2026 08:00:00 all.q@n1      1\n"
        "      2 0.00000 cb-lab     root  qw    11/22/2026 08:00:01               1\n"
        "      3 0.00000 cb-lab     root  Eqw   11/22/2026 08:00:02               1\n"
    )
    assert SGE.status.parse(sge) == {
        "1": JobState("RUNNING", "", "n1"),
        "2": JobState("PENDING", "", ""),
        "3": JobState("ERROR", "error state: see qstat -j", ""),
    }
    lsf = "7|RUN|-|n2\n8|PEND|Not enough job slot(s)|-\n"
    assert LSF.status.parse(lsf) == {
        "7": JobState("RUNNING", "", "n2"),
        "8": JobState("PENDING", "Not enough job slot(s)", ""),
    }
    condor = "5\t0\t2\tundefined\tslot1@n3\n6\t0\t5\tout of disk\tundefined\n"
    assert HTCONDOR.status.parse(condor) == {
        "5.0": JobState("RUNNING", "", "n3"),
        "6.0": JobState("HELD", "out of disk", ""),
    }


def test_pending_error_is_one_line_with_reasons() -> None:
    states = {"13": JobState("PENDING", "Resources", ""), "12": JobState("RUNNING", "", "vm")}
    message = str(pending_error(_host(), states, waited=120, job_ids=["12", "13", "14"]))
    assert message == (
        "host 'hpc': workers not registered after 120 s: job 12 RUNNING on vm, "
        "job 13 PENDING (Resources), job 14 left the queue (see its log)"
    )
    assert str(pending_error(_host(), {}, waited=5)).endswith(": no job in the queue")


def test_rejected_submission_is_a_one_line_command_error(monkeypatch) -> None:
    """dask-jobqueue's multi-line RuntimeError becomes a CommandError; the Job is 'failed'."""

    async def rejecting_call(cmd, **kwargs):
        raise RuntimeError(
            "Command exited with non-zero exit code.\nExit code: 1\nCommand:\n"
            f"{' '.join(cmd)}\nstdout:\n\nstderr:\n"
            "sbatch: error: invalid partition specified: nope\n"
            "sbatch: error: Batch job submission failed: Invalid partition name specified\n"
        )

    spec = SLURM.worker_specs(_host(queue="nope"), CONTEXT)["lab-hpc-0"]
    job = spec["cls"](DRY_RUN_SCHEDULER, name="lab-hpc-0", **spec["options"])
    monkeypatch.setattr(job, "_call", rejecting_call)
    with pytest.raises(CommandError) as failure:
        asyncio.run(job.start())
    assert failure.value.returncode == 1
    assert failure.value.command.startswith("sbatch ")
    assert "invalid partition specified: nope" in failure.value.stderr
    assert "\n" not in str(failure.value)
    assert str(failure.value).startswith("lab-hpc-0: command 'sbatch ")
    assert job.status.name == "failed"


def test_job_classes_keep_dask_jobqueue_identity() -> None:
    assert issubclass(PBS.job_cls(), PBSJob)
    assert SLURM.job_cls() is SLURM.job_cls()
    assert SLURM.job_cls().__name__ == "SLURMJob"
    assert SLURM.client() == "sbatch"
    assert {q.client() for q in QUEUES.values()} == {"sbatch", "qsub", "bsub", "condor_submit"}
