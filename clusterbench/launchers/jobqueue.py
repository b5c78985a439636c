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
:class:`StatusQuery` if ``status`` should show its queue) and one line in
:data:`clusterbench.launchers.base.REGISTRY`.
"""

from __future__ import annotations

import functools
import importlib
import math
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from dask.utils import parse_bytes

from clusterbench.errors import CommandError, InventoryError, LaunchError
from clusterbench.inventory.model import QueueHost
from clusterbench.launchers.base import SpecContext, WorkerSlot, blas_env

# What `up --dry-run` shows instead of the real scheduler address (unknown before start).
DRY_RUN_SCHEDULER = "tcp://SCHEDULER:8786"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class JobState(NamedTuple):
    """Where one batch job is: ``state`` (SLURM words), ``reason`` it pends, ``node`` it runs on."""

    state: str
    reason: str
    node: str


@dataclass(frozen=True)
class StatusQuery:
    """How to ask one queue system about some job ids.

    ``command(ids)`` is the argv; ``parse(stdout)`` gives ``{job_id: JobState}``;
    stderr containing one of ``gone`` means "some ids are no longer known",
    which is an answer (those jobs are over), not a failure.
    """

    command: Callable[[list[str]], list[str]]
    parse: Callable[[str], dict[str, JobState]]
    gone: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueLauncher:
    """Builds dask-jobqueue ``Job`` specs for the hosts of one queue system.

    Parameters
    ----------
    kind
        The inventory's ``launcher`` value (``"slurm"``).
    job_class
        ``"module:Class"`` of the dask-jobqueue ``Job`` subclass; imported on first use.
    status
        How :meth:`queue_state` queries the queue.
    queue_param, account_param
        The Job keyword that takes ``host.queue`` / ``host.account`` (None: unsupported).
    walltime
        Converts ``host.walltime`` to the Job's format (None: no walltime keyword).
    directives
        Converts ``host.job_extra_directives`` for the Job (a list; HTCondor wants a dict).
    defaults
        Extra Job keywords this system requires, as ``(name, value)`` pairs.
    """

    kind: str
    job_class: str
    status: StatusQuery
    queue_param: str | None = "queue"
    account_param: str | None = "account"
    walltime: Callable[[str], str] | None = str
    directives: Callable[[Sequence[str]], Any] = list
    defaults: tuple[tuple[str, Any], ...] = ()

    def job_cls(self) -> type:
        """The dask-jobqueue ``Job`` class, with rejected submissions reported (see below)."""
        return _job_class(self.job_class)

    def spec_names(self, host: QueueHost, context: SpecContext) -> list[str]:
        """One name per job: ``<cluster>-<host>-<j>``."""
        return [f"{context.cluster}-{host.name}-{j}" for j in range(host.jobs)]

    def job_options(self, host: QueueHost, context: SpecContext) -> dict[str, Any]:
        """The Job keywords for one job of *host* (everything but scheduler address and name).

        Raises
        ------
        InventoryError
            The host asks for something this queue system cannot express.
        """
        options: dict[str, Any] = dict(self.defaults)
        options.update(
            cores=host.cores,
            memory=_size(host),
            processes=host.processes,
            python=host.python or sys.executable,
            job_name=_job_name(context),
            job_extra_directives=self.directives(host.job_extra_directives),
            # Exports first so that the user's prologue can use them.
            job_script_prologue=[*_exports(host), *host.job_script_prologue],
            worker_extra_args=list(host.worker_extra_args),
        )
        for key in ("interface", "local_directory", "log_directory"):
            if getattr(host, key) is not None:
                options[key] = getattr(host, key)
        if context.credentials is not None:
            # dask-jobqueue writes the *paths* of the TLS files into the job script
            # (--tls-ca-file ...): they are in clusterbench's state directory, which must
            # be on storage the compute nodes share (the home directory on most sites).
            options |= {"protocol": "tls://", "security": context.credentials.security()}
        self._put(options, host, "queue", self.queue_param, host.queue)
        self._put(options, host, "account", self.account_param, host.account)
        if self.walltime is not None and host.walltime is not None:
            options["walltime"] = self.walltime(host.walltime)
        elif "walltime" in host.model_fields_set:
            # Only an explicit walltime is an error: the model has a default for everyone.
            self._put(options, host, "walltime", None, host.walltime)
        return options

    def _put(
        self, options: dict, host: QueueHost, field: str, param: str | None, value: Any
    ) -> None:
        """Set ``options[param]``; a value the system has no keyword for is an inventory error."""
        if value is None:
            return
        if param is None:
            raise InventoryError(
                f"host {host.name!r}: launcher {self.kind} has no '{field}'; "
                "remove it or express it in job_extra_directives"
            )
        options[param] = value

    def worker_specs(self, host: QueueHost, context: SpecContext) -> dict[str, dict[str, Any]]:
        """``{spec_name: {"cls": Job, "options": {...}[, "group": ["-0", ...]]}}``, one per job.

        Pure apart from importing dask_jobqueue: nothing is submitted until
        SpecCluster awaits the Job.
        """
        cls = self.job_cls()
        specs = {}
        for name in self.spec_names(host, context):
            spec: dict[str, Any] = {"cls": cls, "options": self.job_options(host, context)}
            if host.processes > 1:
                spec["group"] = _suffixes(host)
            specs[name] = spec
        return specs

    def slots(self, host: QueueHost, context: SpecContext) -> list[WorkerSlot]:
        """The dask workers the jobs register, named as the scheduler will see them."""
        suffixes = _suffixes(host) if host.processes > 1 else [""]
        return [
            WorkerSlot(
                name=spec + suffix, host=host.name, threads=host.threads_per_worker, spec_name=spec
            )
            for spec in self.spec_names(host, context)
            for suffix in suffixes
        ]

    def job_scripts(
        self, host: QueueHost, context: SpecContext, scheduler_address: str = DRY_RUN_SCHEDULER
    ) -> list[str]:
        """The job scripts ``up --dry-run`` prints, rendered by the Job classes themselves.

        Submits nothing; note that dask-jobqueue creates ``log_directory`` if it is set.
        """
        return [
            spec["cls"](scheduler_address, name=name, **spec["options"]).job_script()
            for name, spec in self.worker_specs(host, context).items()
        ]

    def client(self) -> str:
        """The submit program (``sbatch``, ``qsub``, ``bsub``, ``condor_submit``)."""
        return shlex.split(self.job_cls().submit_command)[0]

    def preflight(self, host: QueueHost) -> None:
        """Check that the queue's submit program is on PATH.

        Raises
        ------
        LaunchError
            One line naming the host and the missing program.
        """
        binary = self.client()
        if shutil.which(binary) is None:
            raise LaunchError(
                f"host {host.name!r}: {binary!r} not found on PATH; the {self.kind} launcher "
                f"submits jobs with it (run clusterbench on a {self.kind} submit host)"
            )

    def queue_state(self, host: QueueHost | str, job_ids: Sequence[str]) -> dict[str, JobState]:
        """``{job_id: JobState}`` for those of *job_ids* the queue still knows (blocking).

        Parameters
        ----------
        host
            The queue host, or just its name (``status`` has only the state file's
            name; the name is used for error messages only).
        job_ids
            Ids as the submit command printed them.

        Returns
        -------
        dict
            Jobs absent from the answer have ended.

        Raises
        ------
        CommandError
            The query itself failed (program missing, timed out, unexpected error).
        """
        ids = [str(job_id) for job_id in job_ids]
        if not ids:
            return {}
        query = self.status
        where = host if isinstance(host, str) else host.name
        states = query.parse(_run_tolerant(query.command(ids), where, query.gone))
        # Some tools (SGE's qstat) list every job of the user: keep ours.
        return {job: state for job, state in states.items() if job in ids}

    def cancel(self, host: QueueHost, job_ids: Sequence[str]) -> None:
        """Cancel *job_ids* with the Job class's cancel command (``scancel`` ...); blocking."""
        ids = [str(job_id) for job_id in job_ids]
        if ids:
            argv = [*shlex.split(self.job_cls().cancel_command), *ids]
            _run_tolerant(argv, host.name, self.status.gone)


def run_queue_command(argv: Sequence[str], *, where: str, timeout: float = 30) -> str:
    """Run a queue client command on this machine and return its stdout.

    Parameters
    ----------
    argv
        Program and arguments (no shell).
    where
        Host name for the error message.
    timeout
        Seconds before giving up.

    Raises
    ------
    CommandError
        The program is missing, timed out or exited non-zero; carries stdout and stderr.
    """
    command = shlex.join(argv)
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        stderr = f"{argv[0]}: not found on PATH"
        raise CommandError(command, None, "", stderr, where=where) from None
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        stderr = f"timed out after {timeout:g} s"
        raise CommandError(command, None, out, stderr, where=where) from None
    if proc.returncode != 0:
        raise CommandError(command, proc.returncode, proc.stdout, proc.stderr, where=where)
    return proc.stdout


def pending_error(
    host: QueueHost, states: dict[str, JobState], waited: float, job_ids: Sequence[str] = ()
) -> LaunchError:
    """The one-line error for jobs whose workers did not register by the deadline.

    Parameters
    ----------
    host
        The queue host.
    states
        :meth:`QueueLauncher.queue_state` of the jobs whose workers are missing.
    waited
        Seconds waited.
    job_ids
        Those jobs' ids: an id absent from *states* has left the queue (it failed or ended).

    Returns
    -------
    LaunchError
        ``host 'hpc': workers not registered after 120 s: job 13 PENDING (Resources), ...``
    """
    parts = [_describe(job, states[job]) for job in sorted(states)]
    parts += [f"job {job} left the queue (see its log)" for job in job_ids if job not in states]
    detail = ", ".join(parts) or "no job in the queue"
    return LaunchError(f"host {host.name!r}: workers not registered after {waited:.0f} s: {detail}")


def _describe(job: str, state: JobState) -> str:
    """``job 13 PENDING (Resources)`` / ``job 12 RUNNING on vm``."""
    text = f"job {job} {state.state}"
    text += f" ({state.reason})" if state.reason else ""
    return text + (f" on {state.node}" if state.node else "")


def launcher_of(host: QueueHost) -> QueueLauncher:
    """The :class:`QueueLauncher` for ``host.launcher``."""
    return QUEUES[host.launcher]


def preflight(host: QueueHost) -> None:
    """:meth:`QueueLauncher.preflight` of the host's queue system."""
    launcher_of(host).preflight(host)


def queue_state(host: QueueHost, job_ids: Sequence[str]) -> dict[str, JobState]:
    """:meth:`QueueLauncher.queue_state` of the host's queue system."""
    return launcher_of(host).queue_state(host, job_ids)


def cancel(host: QueueHost, job_ids: Sequence[str]) -> None:
    """:meth:`QueueLauncher.cancel` of the host's queue system."""
    launcher_of(host).cancel(host, job_ids)


# --- Job classes ---------------------------------------------------------------------


class _ReportSubmitErrors:
    """Mixin for a dask-jobqueue ``Job``: a rejected submission fails cleanly and says why.

    Without it a failed ``sbatch`` leaves the Job in ``Status.created``; SpecCluster's
    cleanup then asserts on that status and the user sees ``AssertionError:
    Status.created`` instead of the queue's stderr (distributed 2026.8, jobqueue 0.9).
    """

    name: str
    status: Any

    async def start(self) -> None:
        try:
            await super().start()  # type: ignore[misc]
        except Exception as err:
            from distributed.core import Status

            self.status = Status.failed
            if isinstance(err, RuntimeError):
                raise _submit_error(self.name, err) from err
            raise


@functools.cache
def _job_class(path: str) -> type:
    """``module:Class`` of a dask-jobqueue Job, subclassed once with the mixin above."""
    module, _, name = path.partition(":")
    base = getattr(importlib.import_module(module), name)
    namespace = {"__module__": __name__, "__qualname__": name, "__doc__": base.__doc__}
    return type(name, (_ReportSubmitErrors, base), namespace)


_JOBQUEUE_ERROR = re.compile(
    r"Exit code: (?P<code>-?\d+)\nCommand:\n(?P<command>.*?)\n"
    r"stdout:\n(?P<stdout>.*?)\nstderr:\n(?P<stderr>.*)",
    re.DOTALL,
)


def _submit_error(spec_name: str, err: RuntimeError) -> LaunchError:
    """dask-jobqueue's multi-line RuntimeError from the submit command, as one line."""
    match = _JOBQUEUE_ERROR.search(str(err))
    if match is None:
        last = str(err).strip().splitlines()[-1:] or ["(no message)"]
        return LaunchError(f"{spec_name}: job submission failed: {last[0]}")
    return CommandError(
        match["command"].strip(),
        int(match["code"]),
        match["stdout"],
        match["stderr"],
        where=spec_name,
    )


# --- option conversions -------------------------------------------------------------


def _size(host: QueueHost) -> str:
    """``host.memory`` as an exact dask size string (``"1GB"``, ``"512MiB"``, ``"1234B"``)."""
    memory = host.memory
    # pydantic does not validate defaults: an omitted memory is still the string "1GB".
    if isinstance(memory, str) and memory != "auto":
        memory = parse_bytes(memory)
    if not isinstance(memory, int):
        raise InventoryError(
            f"host {host.name!r}: memory must be a size such as '4GB' for a queue host "
            f"(the job requests it), not {memory!r}"
        )
    for unit, factor in (("GiB", 2**30), ("GB", 10**9), ("MiB", 2**20), ("MB", 10**6)):
        if memory % factor == 0:
            return f"{memory // factor}{unit}"
    return f"{memory}B"


def _job_name(context: SpecContext) -> str:
    """``cb-<cluster>[-<session>]``: lets ``down`` find our jobs by name."""
    return f"cb-{context.cluster}" + (f"-{context.session}" if context.session else "")


def _exports(host: QueueHost) -> list[str]:
    """``export K=V`` lines: BLAS capped at one thread per worker thread, then ``host.env``."""
    env = blas_env(1) | host.env
    bad = [name for name in env if not _ENV_NAME.fullmatch(name)]
    if bad:
        raise InventoryError(f"host {host.name!r}: env name {bad[0]!r} is not a shell name")
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def _suffixes(host: QueueHost) -> list[str]:
    """What ``dask worker --nworkers N`` appends to ``--name``: ``-0`` ... ``-(N-1)``."""
    return [f"-{i}" for i in range(host.processes)]


def _lsf_walltime(walltime: str) -> str:
    """LSF's ``-W`` takes ``[HH:]MM``: ``"00:30:00"`` → ``"00:30"`` (seconds round up)."""
    parts = walltime.split(":")
    if len(parts) != 3:
        return walltime
    hours, minutes, seconds = (int(part) for part in parts)
    total = hours * 60 + minutes + math.ceil(seconds / 60)
    return f"{total // 60:02d}:{total % 60:02d}"


def _condor_directives(lines: Sequence[str]) -> dict[str, str]:
    """HTCondor's Job wants ``{"Key": "Value"}``; the inventory has ``"Key = Value"`` lines."""
    pairs = [line.partition("=") for line in lines]
    return {key.strip(): value.strip() for key, _, value in pairs}


# --- queue state ---------------------------------------------------------------------


def _run_tolerant(argv: list[str], where: str, gone: tuple[str, ...]) -> str:
    """Run *argv*; a failure that only says some ids are unknown still returns stdout."""
    try:
        return run_queue_command(argv, where=where)
    except CommandError as err:
        if any(marker.lower() in err.stderr.lower() for marker in gone):
            return err.stdout
        raise


def _blank(value: str) -> str:
    """Queue tools print ``None``, ``-``, ``(null)`` or ``undefined`` for "nothing"."""
    return "" if value.strip() in {"None", "-", "(null)", "undefined", "n/a"} else value.strip()


def _parse_squeue(out: str) -> dict[str, JobState]:
    states = {}
    for line in out.splitlines():
        if line.count("|") == 3:
            job, state, reason, node = line.split("|")
            states[job.strip()] = JobState(state.strip(), _blank(reason), _blank(node))
    return states


_PBS_STATES = {
    "Q": "PENDING",
    "W": "PENDING",
    "H": "HELD",
    "R": "RUNNING",
    "E": "COMPLETING",
    "S": "SUSPENDED",
    "C": "COMPLETED",
    "F": "COMPLETED",
}


def _parse_pbs(out: str) -> dict[str, JobState]:
    """``qstat ID...`` table: id, name, user, time, state letter, queue."""
    states = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[0][0].isdigit():
            code = fields[-2]
            states[fields[0].split(".")[0]] = JobState(_PBS_STATES.get(code, code), "", "")
    return states


def _sge_state(code: str) -> str:
    if "E" in code:
        return "ERROR"
    if "h" in code:
        return "HELD"
    if code.startswith("d"):
        return "COMPLETING"
    if "s" in code.lower():
        return "SUSPENDED"
    return {"qw": "PENDING", "r": "RUNNING", "t": "CONFIGURING", "Rr": "RUNNING"}.get(code, code)


def _parse_sge(out: str) -> dict[str, JobState]:
    """Plain ``qstat``: id, prior, name, user, state, date, time[, queue@node], slots."""
    states = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0].isdigit():
            node = fields[7].partition("@")[2] if "@" in fields[7] else ""
            reason = "error state: see qstat -j" if "E" in fields[4] else ""
            states[fields[0]] = JobState(_sge_state(fields[4]), reason, node)
    return states


_LSF_STATES = {
    "PEND": "PENDING",
    "RUN": "RUNNING",
    "DONE": "COMPLETED",
    "EXIT": "FAILED",
    "PSUSP": "SUSPENDED",
    "USUSP": "SUSPENDED",
    "SSUSP": "SUSPENDED",
}


def _parse_lsf(out: str) -> dict[str, JobState]:
    states = {}
    for line in out.splitlines():
        if line.count("|") == 3:
            job, state, reason, node = line.split("|")
            state = state.strip()
            states[job.strip()] = JobState(
                _LSF_STATES.get(state, state), _blank(reason), _blank(node)
            )
    return states


_CONDOR_STATES = {
    "1": "PENDING",
    "2": "RUNNING",
    "3": "COMPLETING",
    "4": "COMPLETED",
    "5": "HELD",
    "6": "RUNNING",
    "7": "SUSPENDED",
}


def _parse_condor(out: str) -> dict[str, JobState]:
    """``condor_q -af:t ClusterId ProcId JobStatus HoldReason RemoteHost``."""
    states = {}
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) == 5:
            cluster, proc, status, reason, remote = fields
            node = _blank(remote).rpartition("@")[2]
            states[f"{cluster}.{proc}"] = JobState(
                _CONDOR_STATES.get(status, status), _blank(reason), node
            )
    return states


_SQUEUE = ["squeue", "--noheader", "-o", "%i|%T|%r|%N", "-j"]
_BJOBS = ["bjobs", "-noheader", "-o", "jobid stat pend_reason exec_host delimiter='|'"]
_CONDOR_Q = ["-af:t", "ClusterId", "ProcId", "JobStatus", "HoldReason", "RemoteHost"]

SQUEUE = StatusQuery(lambda ids: [*_SQUEUE, ",".join(ids)], _parse_squeue, ("Invalid job id",))
PBS_QSTAT = StatusQuery(lambda ids: ["qstat", *ids], _parse_pbs, ("Unknown Job Id",))
SGE_QSTAT = StatusQuery(lambda ids: ["qstat"], _parse_sge)
BJOBS = StatusQuery(lambda ids: [*_BJOBS, *ids], _parse_lsf, ("is not found",))
CONDOR_Q = StatusQuery(lambda ids: ["condor_q", *ids, *_CONDOR_Q], _parse_condor)

SLURM = QueueLauncher("slurm", "dask_jobqueue.slurm:SLURMJob", SQUEUE)
PBS = QueueLauncher("pbs", "dask_jobqueue.pbs:PBSJob", PBS_QSTAT)
SGE = QueueLauncher("sge", "dask_jobqueue.sge:SGEJob", SGE_QSTAT, account_param="project")
LSF = QueueLauncher(
    "lsf", "dask_jobqueue.lsf:LSFJob", BJOBS, account_param="project", walltime=_lsf_walltime
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
QUEUES: dict[str, QueueLauncher] = {q.kind: q for q in (SLURM, PBS, SGE, LSF, HTCONDOR)}
