"""Option conversions: the inventory's queue-host fields in each system's Job keywords (pure)."""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence

from clusterbench.errors import InventoryError
from clusterbench.launchers.base import SpecContext, blas_env
from clusterbench.launchers.jobqueue.host import QueueHost

# What the queue systems accept as a walltime: N, MM:SS or HH:MM:SS (SLURM also takes a
# days prefix); anything else is rejected by the submit command after `up`.  A bare number
# is minutes to SLURM and LSF but seconds to PBS's walltime and SGE's h_rt: the hint says
# which, so that `walltime: '30'` is not a 30-second job by surprise.
WALLTIME = (r"\d+(:\d{1,2}){0,2}", "HH:MM:SS (or minutes)")
SECONDS_WALLTIME = (r"\d+(:\d{1,2}){0,2}", "HH:MM:SS (or seconds)")
SLURM_WALLTIME = (r"(\d+-)?\d+(:\d{1,2}){0,2}", "[D-]HH:MM:SS (or minutes)")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _size(host: QueueHost) -> str:
    """``host.memory`` as an exact dask size string (``"1GB"``, ``"512MiB"``, ``"1234B"``)."""
    memory = host.memory
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
    return [f"-{i}" for i in range(host.processes or 1)]


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


