"""The queue launcher: a :class:`QueueLauncher` turns a queue host into dask-jobqueue
``Job`` specs, and checks, describes and follows its jobs.

Building specs is pure apart from importing dask_jobqueue: nothing is submitted
until SpecCluster awaits the Job.  The option conversions below translate the
inventory's fields into each system's Job keywords.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clusterbench.errors import CommandError, InventoryError, LaunchError
from clusterbench.inventory.safe_yaml import short
from clusterbench.launchers.base import (
    HostReport,
    JobState,
    Launcher,
    Probe,
    SpecContext,
    WorkerSlot,
)
from clusterbench.launchers.jobqueue.host import DEFAULT, INVENTORY, QueueHost, host_sources
from clusterbench.launchers.jobqueue.limits import check_job_limit
from clusterbench.launchers.jobqueue.logs import JobLogs
from clusterbench.launchers.jobqueue.options import WALLTIME, _exports, _job_name, _size, _suffixes
from clusterbench.launchers.jobqueue.status import (
    StatusQuery,
    _run_tolerant,
    run_queue_command,
)
from clusterbench.launchers.jobqueue.submit import _job_class

# What `up --dry-run` shows instead of the real scheduler address (unknown before start).
DRY_RUN_SCHEDULER = "tcp://SCHEDULER:8786"


@dataclass(frozen=True)
class QueueLauncher(JobLogs, Launcher):
    """Builds dask-jobqueue ``Job`` specs for the hosts of one queue system.

    Parameters
    ----------
    name
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
    walltime_form
        ``(regular expression, what to tell the user)`` of a walltime it accepts.
    queue_known
        argv that exits 0 when the queue named by its argument exists (``doctor``).
    submit_limit
        Asks the queue system for the user's limit on submitted jobs (None: unknown);
        ``validate`` refuses ``jobs`` above it, and above the inventory's ``max_jobs``.
    """

    host_model = QueueHost

    name: str
    job_class: str
    status: StatusQuery
    queue_param: str | None = "queue"
    account_param: str | None = "account"
    walltime: Callable[[str], str] | None = str
    directives: Callable[[Sequence[str]], Any] = list
    defaults: tuple[tuple[str, Any], ...] = ()
    walltime_form: tuple[str, str] = WALLTIME
    queue_known: Callable[[str], list[str]] | None = None
    submit_limit: Callable[[QueueHost], int | None] | None = None

    def job_cls(self) -> type[Any]:
        """The dask-jobqueue ``Job`` class, with rejected submissions reported
        (:mod:`clusterbench.launchers.jobqueue.submit`)."""
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
        host = host.effective()
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
        elif host.origins().get("walltime", DEFAULT) != DEFAULT:
            # Only a walltime someone asked for is an error: the fallback is for everyone.
            self._put(options, host, "walltime", None, host.walltime)
        if self.default_log_directory(host, context):  # not the user's working directory
            options["log_directory"] = self.default_log_directory(host, context)
        return options

    def _put(
        self, options: dict, host: QueueHost, field: str, param: str | None, value: Any
    ) -> None:
        """Set ``options[param]``; a value the system has no keyword for is an inventory error."""
        if value is None:
            return
        if param is None:
            raise InventoryError(
                f"host {host.name!r}: launcher {self.name} has no '{field}'; "
                "remove it or express it in job_extra_directives"
            )
        options[param] = value

    def worker_specs(self, host: QueueHost, context: SpecContext) -> dict[str, dict[str, Any]]:
        """``{spec_name: {"cls": Job, "options": {...}[, "group": ["-0", ...]]}}``, one per job.

        Pure apart from importing dask_jobqueue: nothing is submitted until
        SpecCluster awaits the Job.
        """
        cls = self.job_cls()
        host = host.effective()
        specs = {}
        for name in self.spec_names(host, context):
            spec: dict[str, Any] = {"cls": cls, "options": self.job_options(host, context)}
            if (host.processes or 1) > 1:
                spec["group"] = _suffixes(host)
            specs[name] = spec
        return specs

    def slots(self, host: QueueHost, context: SpecContext) -> list[WorkerSlot]:
        """The dask workers the jobs register, named as the scheduler will see them."""
        host = host.effective()
        suffixes = _suffixes(host) if (host.processes or 1) > 1 else [""]
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

        Submits nothing; dask-jobqueue creates ``log_directory`` (clusterbench's default is
        removed again when empty).
        """
        with self.rendering_only(host, context):
            return [spec["cls"](scheduler_address, name=name, **spec["options"]).job_script()
                    for name, spec in self.worker_specs(host, context).items()]

    def client(self) -> str:
        """The submit program (``sbatch``, ``qsub``, ``bsub``, ``condor_submit``)."""
        return shlex.split(self.job_cls().submit_command)[0]

    def preflight(self, host: QueueHost) -> None:
        """Check that the queue's submit program is on PATH.

        Raises ``LaunchError``: one line naming the host and the missing program.
        """
        problem = self._missing_client()
        if problem:
            raise LaunchError(f"host {host.name!r}: {problem}")

    def _missing_client(self) -> str | None:
        binary = self.client()
        if shutil.which(binary) is None:
            return (f"{binary!r} not found on PATH; the {self.name} launcher submits jobs "
                    f"with it (run clusterbench on a {self.name} submit host)")
        return None

    def describe(self, host: QueueHost, context: SpecContext, scheduler: str
                 ) -> list[tuple[str, str]]:
        """Where the host's knobs came from, then each job's script, rendered by dask-jobqueue."""
        scripts = [(f"{host.name}: job {index + 1} of {host.jobs} ({self.name})", script)
                   for index, script in enumerate(self.job_scripts(host, context, scheduler))]
        return [(f"settings of {host.name} ({self.name})", "\n".join(self.sources(host))),
                *scripts]

    def sources(self, host: QueueHost) -> list[str]:
        """``FIELD VALUE (ORIGIN)`` for every knob that has a value (``inventory check``)."""
        return host_sources(host)

    def validate(self, host: QueueHost, where: str) -> None:
        """The values from dask's config are valid, a walltime this queue accepts, and its
        submit program on PATH."""
        try:
            host = host.effective()
        except InventoryError as exc:  # `where` names the host already
            raise InventoryError(f"{where}: {str(exc).removeprefix(f'host {host.name!r}: ')}"
                                 ) from None
        pattern, form = self.walltime_form
        if host.walltime is not None and not re.fullmatch(pattern, host.walltime):
            origin = host.origins().get("walltime", INVENTORY)
            raise InventoryError(f"{where}: field 'walltime': must be like {form}, "
                                 f"got {short(host.walltime)}" + ("" if origin == INVENTORY
                                                                  else f" (from {origin})"))
        problem = self._missing_client()
        if problem:
            raise LaunchError(f"{where}: {problem}")
        check_job_limit(host, where, self.submit_limit)

    async def check(self, host: QueueHost, probe: Probe) -> HostReport:
        """The submit program is on PATH and the host's queue (partition) exists."""
        host = host.effective()
        facts = {"launcher": self.name, "submit": shutil.which(self.client())}
        problem = self._missing_client()
        if problem is None and host.queue is not None and self.queue_known is not None:
            problem = await asyncio.to_thread(self._queue_problem, host, probe.timeout)
        return HostReport(host.name, problem is None, facts, (problem,) if problem else ())

    def _queue_problem(self, host: QueueHost, timeout: float) -> str | None:
        assert self.queue_known is not None and host.queue is not None
        try:
            run_queue_command(self.queue_known(host.queue), where=host.name, timeout=timeout)
        except CommandError as err:
            lines = (err.stderr or err.stdout or "").strip().splitlines()
            said = lines[-1] if lines else f"exit {err.returncode}"
            if host.queue in said:  # the queue system answered about this queue
                return (f"queue {host.queue!r} is not known to {self.name} ({said}); set "
                        "'queue' to one the cluster has")
            return f"could not ask {self.name} about queue {host.queue!r}: {err}"
        return None

    def job_state(self, host: QueueHost | str, job_ids: Sequence[str]) -> dict[str, JobState]:
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
