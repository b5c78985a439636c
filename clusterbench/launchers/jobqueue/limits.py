"""The site's limit on submitted jobs, when it is known: the inventory's ``max_jobs``, or
SLURM's ``MaxSubmitJobs`` of the user's association (``sacctmgr``).

``up`` refuses a host whose ``jobs`` exceed the limit before anything is submitted: the
queue would reject the jobs past it one by one (``QOSMaxSubmitJobPerUserLimit``) after the
first ones already started.  A site without an accounting database (or a ``sacctmgr`` that
does not answer in time) gives no limit, and nothing is said.
"""

from __future__ import annotations

import functools
import getpass
import os
import shutil
import subprocess
from collections.abc import Callable

from clusterbench.errors import InventoryError
from clusterbench.launchers.jobqueue.host import QueueHost

#: Seconds ``sacctmgr`` may take; ``up`` must not wait long for a limit it may not learn.
SACCTMGR_TIMEOUT = 5.0


def sacctmgr_argv(user: str) -> list[str]:
    """``sacctmgr`` listing *user*'s associations with their MaxSubmitJobs, parsable."""
    return ["sacctmgr", "--noheader", "--parsable2", "show", "assoc", f"where user={user}",
            "format=Account,Partition,MaxSubmitJobs"]


def parse_assoc(out: str, account: str | None, partition: str | None) -> int | None:
    """The tightest MaxSubmitJobs of the associations that apply, or None (no limit set).

    Parameters
    ----------
    out
        ``sacctmgr --noheader --parsable2 ... format=Account,Partition,MaxSubmitJobs``.
    account, partition
        The host's ``account`` and ``queue``; None matches any (the site's default applies,
        which we cannot tell apart, so the tightest one is taken).
    """
    limits = []
    for line in out.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 3 or not fields[2].strip().isdigit():
            continue
        acct, part, limit = (field.strip() for field in fields)
        if account and acct and acct != account:
            continue
        if partition and part and part != partition:
            continue  # an association of another partition does not limit this one
        limits.append(int(limit))
    return min(limits) if limits else None


def slurm_submit_limit(host: QueueHost, timeout: float = SACCTMGR_TIMEOUT) -> int | None:
    """MaxSubmitJobs of the user's SLURM association for *host*, or None when unknown."""
    program = shutil.which("sacctmgr")
    if program is None:
        return None
    listing = _associations(program, os.environ.get("SLURM_CONF"), getpass.getuser(), timeout)
    return None if listing is None else parse_assoc(listing, host.account, host.queue)


@functools.lru_cache(maxsize=8)
def _associations(program: str, slurm_conf: str | None, user: str, timeout: float
                  ) -> str | None:
    """``sacctmgr``'s listing of *user*'s associations, asked once per command and cluster
    (*program* and *slurm_conf* are part of the key), not once per SLURM host: an
    unresponsive slurmdbd cost the timeout per host.  None when unknown."""
    try:
        proc = subprocess.run([program, *sacctmgr_argv(user)[1:]], capture_output=True,
                              text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None  # cannot ask: unknown, not an error
    if proc.returncode != 0:
        return None  # e.g. no accounting storage (slurmdbd) on this site
    return proc.stdout


def job_limit_problem(host: QueueHost, where: str, site_limit: int | None) -> str | None:
    """The one-line refusal when *host*'s ``jobs`` exceed a known limit, else None.

    Parameters
    ----------
    host
        The (effective) queue host.
    where
        ``FILE: hosts[i] 'name'``.
    site_limit
        What the queue system said (``sacctmgr``), or None.
    """
    jobs = host.jobs
    if host.max_jobs is not None and jobs > host.max_jobs:
        return (f"{where}: jobs {jobs} is above max_jobs {host.max_jobs} (the site's submit "
                f"limit); lower 'jobs', or run more workers per job with 'processes'")
    if site_limit is not None and jobs > site_limit:
        return (f"{where}: jobs {jobs} is above MaxSubmitJobs {site_limit} of your SLURM "
                f"association (sacctmgr); lower 'jobs', or run more workers per job with "
                f"'processes'")
    return None


def check_job_limit(host: QueueHost, where: str,
                    submit_limit: Callable[[QueueHost], int | None] | None) -> None:
    """Refuse more jobs than the inventory's ``max_jobs`` or, without it, the queue's own
    limit (*submit_limit*, e.g. :func:`slurm_submit_limit`) allows, before one is submitted.

    Raises
    ------
    InventoryError
        One line naming *where* (file, host) and the limit.
    """
    problem = job_limit_problem(host, where, None)
    if problem is None and submit_limit is not None and host.max_jobs is None:
        problem = job_limit_problem(host, where, submit_limit(host))
    if problem:
        raise InventoryError(problem)
