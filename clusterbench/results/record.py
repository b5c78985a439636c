"""One stored measurement: a timed repeat of one workload at one sweep point."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Record:
    """A timed repeat, as written to ``records.jsonl`` (one JSON object per line).

    ``seconds`` is wall time around ``workload.run`` only; cluster start,
    data preparation and warm-up are in ``setup_seconds``/``warmup_seconds``.
    ``verified`` is False and ``error`` set when the answer did not match the
    serial reference or the run raised.  ``baseline`` names the workload whose
    serial time is the fair reference (``None``: this workload's own).

    Schema 2 (issue 11) adds the execution order (``round``, ``position``,
    ``order_points``, ``attempt``), the workers that really executed the repeat
    (``executed_workers``, ``worker_set_changed``, ``worker_set_note``) and the
    sweep kind (``scaling``, ``scale``: the point's work multiplier).  A repeat
    counts in a point's statistics only when ``verified and error is None and
    not worker_set_changed``.
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
    round: int = 0
    position: int = 0
    order_points: str = "interleaved"
    attempt: int = 0
    executed_workers: tuple[str, ...] = ()
    worker_set_changed: bool = False
    worker_set_note: str = ""
    scaling: str = "strong"
    scale: float = 1.0
    #: Per worker of a cluster point: ``tasks``, ``busy_s`` (compute seconds) and
    #: ``idle_end_s`` (waiting for the others at the end), from the task stream.
    worker_activity: dict[str, dict[str, float]] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def counts(self) -> bool:
        """Whether the repeat counts in its point's statistics (the analysis' rule)."""
        return self.verified and self.error is None and not self.worker_set_changed

    def to_json(self) -> str:
        """Serialise as one JSON line (no newline)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Inverse of :meth:`to_json` (after ``json.loads``); unknown keys are ignored
        so that older readers can read newer files, and missing keys take their
        defaults so that schema-1 lines still read."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        for key in ("worker_names", "worker_hosts", "worker_addresses", "executed_workers"):
            if key in kept:
                kept[key] = tuple(kept[key])
        if kept.get("schema_version", SCHEMA_VERSION) < 2:
            kept.setdefault("order_points", "blocked")  # schema 1 ran every point in one block
        return cls(**kept)
