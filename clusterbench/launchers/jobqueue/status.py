"""Queue status: what a queue system says about our jobs, and the command runner for its tools.

Each system is a :class:`StatusQuery` (the argv for some job ids and a parser of its
output into :class:`JobState`\\ s in SLURM's words).  :func:`pending_error` turns the
states of jobs whose workers never registered into ``up``'s one-line error.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clusterbench.errors import CommandError, LaunchError
from clusterbench.launchers.base import JobState
from clusterbench.launchers.jobqueue.host import QueueHost


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
    host: QueueHost, states: dict[str, JobState], waited: float, job_ids: Sequence[str] = (),
    logs: dict[str, str] | None = None,
) -> LaunchError:
    """The one-line error for jobs whose workers did not register by the deadline.

    Parameters
    ----------
    host
        The queue host.
    states
        :meth:`QueueLauncher.job_state` of the jobs whose workers are missing.
    waited
        Seconds waited.
    job_ids
        Those jobs' ids: an id absent from *states* has left the queue (it failed or ended).
    logs
        ``{job_id: "log PATH: 'its | last | lines'"}`` of the jobs that wrote output.

    Returns
    -------
    LaunchError
        ``host 'hpc': workers not registered after 120 s: job 13 PENDING (Resources), job 12
        RUNNING on vm [log /…/cb-hpc-1f2e-12.err: '… | …'], ...``
    """
    logs = logs or {}
    parts = [_describe(job, states[job]) + _log(logs, job) for job in sorted(states)]
    parts += [f"job {job} left the queue" + (_log(logs, job) or " (see its log)")
              for job in job_ids if job not in states]
    detail = ", ".join(parts) or "no job in the queue"
    return LaunchError(f"host {host.name!r}: workers not registered after {waited:.0f} s: {detail}")


def _log(logs: dict[str, str], job: str) -> str:
    """`` [log PATH: '…']`` of *job*, or ''."""
    return f" [{logs[job]}]" if logs.get(job) else ""


def _describe(job: str, state: JobState) -> str:
    """``job 13 PENDING (Resources)`` / ``job 12 RUNNING on vm``."""
    text = f"job {job} {state.state}"
    text += f" ({state.reason})" if state.reason else ""
    return text + (f" on {state.node}" if state.node else "")


def _run_tolerant(argv: list[str], where: str, gone: tuple[str, ...]) -> str:
    """Run *argv*; a failure that only says some ids are unknown still returns stdout."""
    try:
        return run_queue_command(argv, where=where)
    except CommandError as err:
        # SGE's qdel says "denied: job "5" does not exist" on stdout, the others on stderr.
        said = f"{err.stderr}\n{err.stdout}".lower()
        if any(marker.lower() in said for marker in gone):
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
SGE_QSTAT = StatusQuery(lambda ids: ["qstat"], _parse_sge, ("does not exist",))
BJOBS = StatusQuery(lambda ids: [*_BJOBS, *ids], _parse_lsf, ("is not found",))
CONDOR_Q = StatusQuery(lambda ids: ["condor_q", *ids, *_CONDOR_Q], _parse_condor)

