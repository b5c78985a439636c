"""Job logs: where batch jobs write their output, finding a job's log and its last lines,
and pruning older sessions' logs.

By default (no ``log_directory`` in the inventory or in dask's ``jobqueue.<system>``
configuration) a job's output goes to ``<state dir>/logs/<cluster>/<session>/``, not to
the directory the user ran ``up`` from (``slurm-N.out``, ``cb-<cluster>.oN`` ...).  Like
the TLS files, the state directory must be on storage the compute nodes share.  ``down``
keeps the last session's logs and removes older sessions' (:meth:`JobLogs.cleanup`).

Each system names the files after the job id (dask-jobqueue's headers):
``<name>-<id>.out``/``.err`` (SLURM, LSF), ``<name>.o<id>`` (SGE, PBS),
``worker-<id>.out``/``.err`` (HTCondor).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from clusterbench import osutil
from clusterbench.launchers.base import JobState, SpecContext

#: Lines of a log shown in ``up``'s error and under ``status``'s table.
TAIL_LINES = 3
_LINE_CHARS = 240


def log_root() -> Path:
    """``<state dir>/logs``: one directory per cluster, one per session inside."""
    return osutil.state_root() / "logs"


def default_log_directory(cluster: str, session: str) -> Path:
    """Where the jobs of *cluster*'s session *session* write their output by default."""
    return log_root() / cluster / session


def job_log_files(directory: str | Path, job_id: str) -> list[Path]:
    """The files in *directory* that hold job *job_id*'s output (empty: none yet)."""
    pattern = re.compile(rf".*(?:-|\.[oe]){re.escape(str(job_id))}(?:\.(?:out|err))?")
    try:
        return sorted(p for p in Path(directory).iterdir()
                      if pattern.fullmatch(p.name) and p.is_file())
    except OSError:
        return []


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last non-empty lines of *path*, each at most 240 characters."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return []
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return [line if len(line) <= _LINE_CHARS else line[:_LINE_CHARS - 1] + "…" for line in kept]


def describe_logs(files: Sequence[Path]) -> str:
    """``log PATH: 'last | lines'`` for each non-empty file (one line; '' when none)."""
    shown = [f"log {path}: {' | '.join(lines)!r}" for path in files if (lines := tail(path))]
    if not shown and files:
        return f"log {files[0]} (empty)"
    return "; ".join(shown)


def _live_session(cluster: str) -> str | None:
    """The session recorded in *cluster*'s state file (a running ``up``), if any."""
    try:
        data = json.loads((osutil.state_root() / f"cluster-{cluster}.json").read_text())
        return str(data.get("session") or "") or None
    except (OSError, ValueError, AttributeError):
        return None


def prune_logs(session: str) -> list[Path]:
    """Remove the other sessions' log directories of every cluster *session* wrote logs
    for, except a running ``up``'s; return what was removed."""
    removed: list[Path] = []
    root = log_root()
    clusters = [p for p in root.iterdir() if (p / session).is_dir()] if root.is_dir() else []
    for cluster in clusters:
        keep = {session, _live_session(cluster.name)}
        for other in cluster.iterdir():
            if other.is_dir() and other.name not in keep:
                shutil.rmtree(other, ignore_errors=True)
                removed.append(other)
    return removed


class JobLogs:
    """The job-log part of :class:`~clusterbench.launchers.jobqueue.specs.QueueLauncher`:
    its default ``log_directory``, ``up``'s timeout message with the jobs' log tails, the
    logs ``status`` shows, and ``down``'s pruning."""

    name: str

    def job_state(self, host: Any, job_ids: Sequence[str]) -> dict[str, JobState]:
        raise NotImplementedError

    def default_log_directory(self, host: Any, context: SpecContext) -> str | None:
        """The directory for *host*'s jobs when neither the inventory nor dask's config
        names one (None without a session: nothing to group the logs by)."""
        if host.log_directory is not None or not context.session:
            return None
        return str(default_log_directory(context.cluster, context.session))

    @contextlib.contextmanager
    def rendering_only(self, host: Any, context: SpecContext) -> Iterator[None]:
        """Around Jobs made only to print their scripts (``up --dry-run``): the default log
        directory dask-jobqueue creates for them is removed again when it stays empty."""
        directory = self.default_log_directory(host.effective(), context)
        fresh = [p for p in (Path(directory), *Path(directory).parents) if not p.exists()
                 and log_root() in (p, *p.parents)] if directory else []
        try:
            yield
        finally:
            for path in fresh:  # deepest first
                with contextlib.suppress(OSError):
                    path.rmdir()

    def job_logs(self, host: Any, job_ids: Sequence[str], cluster: str | None = None,
                 session: str | None = None) -> dict[str, list[Path]]:
        """``{job_id: files}`` of the jobs whose output files exist.

        Looks in the host's ``log_directory`` (a host model), else in the default
        directory of *cluster*'s *session*, else in every session's default directory
        (newest match first: job ids can repeat across clusters).
        """
        if hasattr(host, "effective"):  # a queue host: its directory may come from dask config
            host = host.effective()
        named = getattr(host, "log_directory", None)
        if named:
            directories = [Path(named)]
        elif cluster and session:
            directories = [default_log_directory(cluster, session)]
        else:
            directories = sorted(log_root().glob("*/*"), key=_mtime, reverse=True)
        found: dict[str, list[Path]] = {}
        for job in (str(job_id) for job_id in job_ids):
            for directory in directories:
                files = job_log_files(directory, job)
                if files:
                    found[job] = files
                    break
        return found

    def job_log_tails(self, host: Any, job_ids: Sequence[str], cluster: str | None = None,
                      session: str | None = None) -> dict[str, tuple[str, list[str]]]:
        """``{job_id: (log path, its last lines)}`` for ``status``: of each job's files, the
        newest that is not empty (SLURM's ``.err`` holds the worker's log, ``.out`` the
        job script's output)."""
        tails = {}
        for job, files in self.job_logs(host, job_ids, cluster, session).items():
            shown = [(path, lines) for path in sorted(files, key=_mtime) if (lines := tail(path))]
            path, lines = shown[-1] if shown else (files[0], [])
            tails[job] = (str(path), lines)
        return tails

    def pending(self, host: Any, job_ids: Sequence[str], timeout: float) -> str | None:
        """What the queue says of jobs whose workers did not register, with their logs."""
        from clusterbench.errors import ClusterbenchError
        from clusterbench.launchers.jobqueue.status import pending_error

        try:
            states = self.job_state(host, job_ids)
        except ClusterbenchError as exc:
            return f"{host.name}: queue state unknown ({exc})"
        logs = {job: describe_logs(files) for job, files in self.job_logs(host, job_ids).items()}
        return str(pending_error(host, states, timeout, job_ids, logs))

    async def cleanup(self, hosts: Sequence[Any], session: str) -> dict[str, list[str]]:
        """``down``: keep this session's job logs, remove older sessions' (nothing is
        reported: the queue's jobs were cancelled by the Job classes)."""
        if session:
            prune_logs(session)
        return {}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
