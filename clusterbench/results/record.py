"""One stored measurement: a timed repeat of one workload at one sweep point."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Record:
    """A timed repeat, as written to ``records.jsonl`` (one JSON object per line).

    ``seconds`` is wall time around ``workload.run`` only; cluster start,
    data preparation and warm-up are in ``setup_seconds``/``warmup_seconds``.
    ``verified`` is False and ``error`` set when the answer did not match the
    serial reference or the run raised.  ``baseline`` names the workload whose
    serial time is the fair reference (``None``: this workload's own).
    """

    run_id: str
    workload: str
    size: str
    scheduler: str
    workers: int
    repeat: int
    seconds: float
    verified: bool
    threads_per_worker: int = 1
    blas_threads: int = 1
    error: str | None = None
    detail: str = ""
    worker_names: tuple[str, ...] = ()
    worker_hosts: tuple[str, ...] = ()
    worker_addresses: tuple[str, ...] = ()
    setup_seconds: float = 0.0
    warmup_seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    timestamp: str = ""
    baseline: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        """Serialise as one JSON line (no newline)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Inverse of :meth:`to_json` (after ``json.loads``); unknown keys are ignored
        so that older readers can read newer files."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        for key in ("worker_names", "worker_hosts", "worker_addresses"):
            if key in kept:
                kept[key] = tuple(kept[key])
        return cls(**kept)
