"""Queue hosts: dask workers as batch jobs through dask-jobqueue's ``Job`` classes.

One spec per job, ``{"cls": SLURMJob, "options": {...}}``; SpecCluster starts
it by calling ``SLURMJob(scheduler_address, name=spec_name, **options)`` and
awaiting it, which writes the job script and runs ``sbatch``.  The job id is
then ``cluster.workers[spec_name].job_id`` (a string; None before submission).

Worker names: the job runs ``dask worker ... --name <spec_name>``; with
``processes > 1`` it adds ``--nworkers N`` and dask names the processes
``<spec_name>-0 ... <spec_name>-(N-1)``, which the spec's ``"group"`` tells
SpecCluster.  :meth:`QueueLauncher.slots` returns exactly those names.

A new queue system is one :class:`QueueLauncher` line below (plus a
:class:`StatusQuery` in :mod:`.status` if ``status`` should show its queue) and
one line in :data:`clusterbench.launchers.base.BUILTIN` (or, outside this package,
an entry point naming the ``QueueLauncher`` object).

The code is split by job: :mod:`.host` is the inventory model, :mod:`.specs` the
launcher (Job specs, checks, dry run), :mod:`.submit` reports rejected submissions in
one line, :mod:`.status` asks the queue about jobs, :mod:`.logs` keeps job output in
clusterbench's state directory and finds a job's log.  This module holds the table of
queue systems and is the public import point for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from clusterbench.launchers.jobqueue.host import QueueHost
from clusterbench.launchers.jobqueue.limits import slurm_submit_limit

# The implementation is split by job (specs / submit errors / queue status); this module
# is the public import point, re-exports every name used elsewhere and holds the table
# of queue systems that the launcher registry points at.
from clusterbench.launchers.jobqueue.options import (
    SECONDS_WALLTIME,
    SLURM_WALLTIME,
    _condor_directives,
    _exports,
    _job_name,
    _lsf_walltime,
    _size,
    _suffixes,
)
from clusterbench.launchers.jobqueue.specs import DRY_RUN_SCHEDULER, QueueLauncher
from clusterbench.launchers.jobqueue.status import (
    BJOBS,
    CONDOR_Q,
    PBS_QSTAT,
    SGE_QSTAT,
    SQUEUE,
    JobState,
    StatusQuery,
    _parse_condor,
    _parse_lsf,
    _parse_pbs,
    _parse_sge,
    _parse_squeue,
    _run_tolerant,
    pending_error,
    run_queue_command,
)
from clusterbench.launchers.jobqueue.submit import _job_class, _ReportSubmitErrors, _submit_error

__all__ = [
    "BJOBS",
    "CONDOR_Q",
    "DRY_RUN_SCHEDULER",
    "HTCONDOR",
    "LSF",
    "PBS",
    "PBS_QSTAT",
    "QUEUES",
    "SGE",
    "SGE_QSTAT",
    "SLURM",
    "SQUEUE",
    "JobState",
    "QueueLauncher",
    "StatusQuery",
    "_ReportSubmitErrors",
    "_condor_directives",
    "_exports",
    "_job_class",
    "_job_name",
    "_lsf_walltime",
    "_parse_condor",
    "_parse_lsf",
    "_parse_pbs",
    "_parse_sge",
    "_parse_squeue",
    "_run_tolerant",
    "_size",
    "_submit_error",
    "_suffixes",
    "QueueHost",
    "cancel",
    "job_state",
    "pending_error",
    "preflight",
    "run_queue_command",
]

SLURM = QueueLauncher("slurm", "dask_jobqueue.slurm:SLURMJob", SQUEUE,
                      walltime_form=SLURM_WALLTIME,
                      queue_known=lambda name: ["scontrol", "show", "partition", name],
                      submit_limit=slurm_submit_limit)
PBS = QueueLauncher("pbs", "dask_jobqueue.pbs:PBSJob", PBS_QSTAT,
                    walltime_form=SECONDS_WALLTIME,
                    queue_known=lambda name: ["qstat", "-Q", name])
SGE = QueueLauncher("sge", "dask_jobqueue.sge:SGEJob", SGE_QSTAT, account_param="project",
                    walltime_form=SECONDS_WALLTIME,
                    queue_known=lambda name: ["qconf", "-sq", name])
LSF = QueueLauncher(
    "lsf", "dask_jobqueue.lsf:LSFJob", BJOBS, account_param="project", walltime=_lsf_walltime,
    queue_known=lambda name: ["bqueues", name],
)
HTCONDOR = QueueLauncher(
    "htcondor",
    "dask_jobqueue.htcondor:HTCondorJob",
    CONDOR_Q,
    queue_param=None,
    account_param=None,
    walltime=None,
    directives=_condor_directives,
    defaults=(("disk", "1GB"),),
)
QUEUES: dict[str, QueueLauncher] = {q.name: q for q in (SLURM, PBS, SGE, LSF, HTCONDOR)}


def _launcher(host: QueueHost) -> QueueLauncher:
    return QUEUES[host.launcher]


def preflight(host: QueueHost) -> None:
    """:meth:`QueueLauncher.preflight` of the host's queue system."""
    _launcher(host).preflight(host)


def job_state(host: QueueHost, job_ids: Sequence[str]) -> dict[str, JobState]:
    """:meth:`QueueLauncher.job_state` of the host's queue system."""
    return _launcher(host).job_state(host, job_ids)


def cancel(host: QueueHost, job_ids: Sequence[str]) -> None:
    """:meth:`QueueLauncher.cancel` of the host's queue system."""
    _launcher(host).cancel(host, job_ids)
