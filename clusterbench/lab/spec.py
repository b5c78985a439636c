"""The lab spec: which fake hosts to make, as one short string.

Grammar (groups separated by commas, whitespace around groups ignored)::

    SPEC  := GROUP ("," GROUP)*
    GROUP := KIND ":" COUNT "x" CPU ["cpu"] ["/" MEMORY] ["@" [WORKERS "w"] [THREADS "t"]]

- ``KIND``: a lowercase word (``[a-z][a-z0-9]*``, at most 12 characters), unique in the spec.
- ``COUNT``: how many hosts of that kind; they are always numbered from 1
  (``pi:4x...`` gives ``pi1`` … ``pi4``, ``laptop:1x...`` gives ``laptop1``) so that
  names do not change when a count goes from 1 to 2.
- ``CPU``: the share of one core each host may use, in ``(0, ncores]`` (``0.25`` or ``0.25cpu``).
- ``MEMORY``: optional memory limit per host, any dask size (``512MB``, ``1GiB``), at least 64 MiB.
- ``@2w``, ``@2t``, ``@2w2t``: dask workers per host and threads per worker (default 1 each).

Example: ``pi:4x0.25cpu/512MB,laptop:1x0.5cpu,desktop:1x1.0cpu@2w``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from dask.utils import parse_bytes

from clusterbench.errors import LabError

GRAMMAR = "KIND:COUNTxCPU[cpu][/MEMORY][@Nw][Nt]"
MIN_MEMORY = 64 * 2**20  # sshd + a python interpreter do not start in less
_GROUP = re.compile(
    r"^(?P<kind>[a-z][a-z0-9]{0,11}):(?P<count>\d+)x(?P<cpu>\d*\.?\d+)(?:cpu)?"
    r"(?:/(?P<memory>[^@]+))?(?:@(?:(?P<workers>\d+)w)?(?:(?P<threads>\d+)t)?)?$"
)


@dataclass(frozen=True)
class HostGroup:
    """One group of identical fake hosts, e.g. ``pi:4x0.25cpu/512MB``."""

    kind: str
    count: int
    cpu: float
    memory: int | None = None
    workers: int = 1
    threads: int = 1

    @property
    def names(self) -> tuple[str, ...]:
        """Host names of the group: ``kind1`` … ``kindN``."""
        return tuple(f"{self.kind}{index}" for index in range(1, self.count + 1))

    def __str__(self) -> str:
        text = f"{self.kind}:{self.count}x{self.cpu!r}cpu"
        if self.memory is not None:
            text += f"/{_size(self.memory)}"
        if (self.workers, self.threads) != (1, 1):
            text += f"@{self.workers}w{self.threads}t"
        return text


def parse_spec(text: str, ncores: int | None = None) -> tuple[HostGroup, ...]:
    """Parse a lab spec string (grammar in the module docstring).

    Parameters
    ----------
    text
        The spec, e.g. ``"pi:4x0.25cpu/512MB,desktop:1x1.0cpu"``.
    ncores
        Upper bound for a host's CPU share; default: this machine's cores.

    Returns
    -------
    tuple of HostGroup
        In spec order.

    Raises
    ------
    LabError
        One line naming the bad group and what was expected.
    """
    ncores = ncores or os.cpu_count() or 1
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or not all(parts):
        raise LabError(f"lab spec {text!r}: expected groups like {GRAMMAR}, separated by commas")
    groups = tuple(_parse_group(part, ncores) for part in parts)
    _check_unique(groups, text)
    return groups


def format_spec(groups: tuple[HostGroup, ...] | list[HostGroup]) -> str:
    """The canonical spec string of *groups* (``parse_spec(format_spec(g)) == g``)."""
    return ",".join(str(group) for group in groups)


def _parse_group(part: str, ncores: int) -> HostGroup:
    match = _GROUP.match(part)
    if match is None:
        raise LabError(f"lab spec {part!r}: expected {GRAMMAR}")
    count = int(match["count"])
    cpu = float(match["cpu"])
    if count < 1:
        raise LabError(f"lab spec {part!r}: COUNT must be at least 1, got {count}")
    if part.endswith("@"):
        raise LabError(f"lab spec {part!r}: expected workers/threads after '@', like @2w or @2w2t")
    if not 0 < cpu <= ncores:
        raise LabError(f"lab spec {part!r}: CPU must be in (0, {ncores}] (cores here), got {cpu:g}")
    return HostGroup(
        kind=match["kind"],
        count=count,
        cpu=cpu,
        memory=_memory(match["memory"], part),
        workers=_positive(match["workers"], "workers", part),
        threads=_positive(match["threads"], "threads", part),
    )


def _memory(text: str | None, part: str) -> int | None:
    if text is None:
        return None
    try:
        value = int(parse_bytes(text))
    except (ValueError, TypeError):
        raise LabError(
            f"lab spec {part!r}: MEMORY must be a size like 512MB, got {text!r}"
        ) from None
    if value < MIN_MEMORY:
        raise LabError(f"lab spec {part!r}: MEMORY must be at least 64MiB, got {text!r}")
    return value


def _size(value: int) -> str:
    """The shortest exact dask size string of *value* bytes (``512MB``, ``1GiB``, ``1000B``)."""
    for unit, factor in (("GiB", 2**30), ("GB", 10**9), ("MiB", 2**20), ("MB", 10**6)):
        if value % factor == 0:
            return f"{value // factor}{unit}"
    return f"{value}B"


def _positive(text: str | None, what: str, part: str) -> int:
    value = 1 if text is None else int(text)
    if value < 1:
        raise LabError(f"lab spec {part!r}: {what} must be at least 1, got {value}")
    return value


def _check_unique(groups: tuple[HostGroup, ...], text: str) -> None:
    seen: set[str] = set()
    for group in groups:
        if group.kind in seen:
            raise LabError(
                f"lab spec {text!r}: kind {group.kind!r} appears twice; merge the counts"
            )
        seen.add(group.kind)
