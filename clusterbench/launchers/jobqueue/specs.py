"""Job specs: a :class:`QueueLauncher` turns a queue host into dask-jobqueue ``Job`` specs.

Building specs is pure apart from importing dask_jobqueue: nothing is submitted
until SpecCluster awaits the Job.  The option conversions below translate the
inventory's fields into each system's Job keywords.
"""

from __future__ import annotations

import math
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dask.utils import parse_bytes

from clusterbench.errors import InventoryError, LaunchError
from clusterbench.inventory.model import QueueHost
from clusterbench.launchers.base import SpecContext, WorkerSlot, blas_env
from clusterbench.launchers.jobqueue.status import JobState, StatusQuery, _run_tolerant
from clusterbench.launchers.jobqueue.submit import _job_class

# What `up --dry-run` shows instead of the real scheduler address (unknown before start).
DRY_RUN_SCHEDULER = "tcp://SCHEDULER:8786"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


