"""One stored measurement: a timed repeat of one workload at one sweep point."""

from __future__ import annotations

import dataclasses
import json
import math
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
    def from_dict(cls, data: Any) -> Record:
        """Inverse of :meth:`to_json` (after ``json.loads``); unknown keys are ignored
        so that older readers can read newer files, and missing keys take their
        defaults so that schema-1 lines still read.

        Raises
        ------
        ValueError
            ``field 'seconds': must be ...``: a missing or mistyped field (a hand-edited or
            foreign file would otherwise fail deep in the analysis, or print wrong numbers).
        """
        if not isinstance(data, dict):
            raise ValueError(f"not a record (a JSON {_json_kind(data)})")
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        missing = [name for name in _REQUIRED if name not in kept]
        if missing:
            raise ValueError(f"field {missing[0]!r} is missing")
        for key, check in _CHECKS.items():
            if key in kept:
                problem = check(kept[key])
                if problem:
                    raise ValueError(f"field {key!r}: {problem}, got {_shown(kept[key])}")
        for key in ("worker_names", "worker_hosts", "worker_addresses", "executed_workers"):
            if key in kept:
                kept[key] = tuple(kept[key])
        if kept.get("schema_version", SCHEMA_VERSION) > SCHEMA_VERSION:
            raise ValueError(f"schema version {kept['schema_version']} is newer than this "
                             f"clusterbench reads ({SCHEMA_VERSION}); upgrade clusterbench")
        if kept.get("schema_version", SCHEMA_VERSION) < 2:
            kept.setdefault("order_points", "blocked")  # schema 1 ran every point in one block
        record = cls(**kept)
        if record.counts and not (math.isfinite(record.seconds) and record.seconds > 0):
            # 0 made the speedup infinite (a report of "inf%" and numpy warnings)
            raise ValueError(f"field 'seconds': a verified repeat needs a time above 0, got "
                             f"{_shown(record.seconds)}")
        return record


_REQUIRED = ("run_id", "workload", "size", "scheduler", "workers", "repeat", "seconds",
             "verified")


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _text_or_null(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string or null"


#: Longest duration a record may hold: sums of 1e308 overflowed to inf in the report.
MAX_SECONDS = 1e9
#: Largest count a record may hold (`workers: 1` and 400 zeros overflowed the report's
#: floats); far beyond any cluster or sweep.
MAX_COUNT = 10**12


def _count(least: int) -> Any:
    def check(value: Any) -> str | None:
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= least):
            return f"must be an integer of at least {least}"
        return None if value <= MAX_COUNT else f"must be at most {MAX_COUNT:,}"
    return check


def _seconds(value: Any) -> str | None:
    """A duration: a number >= 0; NaN only marks a repeat that failed (checked after)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number of seconds"
    if math.isnan(value):
        return None
    if not (math.isfinite(value) and value >= 0):
        return "must be finite and not negative"
    return None if value <= MAX_SECONDS else f"must be at most {MAX_SECONDS:.0e} (31 years)"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _names(value: Any) -> str | None:
    ok = isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
    return None if ok else "must be a list of strings"


def _mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be a mapping"


def _activity(value: Any) -> str | None:
    """``{worker: {figure: number}}`` (:func:`clusterbench.runner.workerset.worker_activity`):
    the report indexes both levels and formats the numbers."""
    if not isinstance(value, dict):
        return "must be a mapping"
    for name, figures in value.items():
        if not isinstance(figures, dict) or not all(
                isinstance(number, int | float) and not isinstance(number, bool)
                for number in figures.values()):
            return f"worker {str(name)[:40]!r}: must map figures to numbers"
    return None


def _scale(value: Any) -> str | None:
    ok = (isinstance(value, int | float) and not isinstance(value, bool)
          and math.isfinite(value) and value > 0)
    return None if ok else "must be a positive number"


_CHECKS = {
    "run_id": _text, "workload": _text, "size": _text, "scheduler": _text,
    "workers": _count(1), "repeat": _count(0), "seconds": _seconds, "verified": _flag,
    "threads_per_worker": _count(1), "blas_threads": _count(0), "error": _text_or_null,
    "detail": _text, "worker_names": _names, "worker_hosts": _names,
    "worker_addresses": _names, "setup_seconds": _seconds, "warmup_seconds": _seconds,
    "params": _mapping, "metrics": _mapping, "timestamp": _text, "baseline": _text_or_null,
    "round": _count(0), "position": _count(0), "order_points": _text, "attempt": _count(0),
    "executed_workers": _names, "worker_set_changed": _flag, "worker_set_note": _text,
    "scaling": _text, "scale": _scale, "worker_activity": _activity,
    "schema_version": _count(1),
}
