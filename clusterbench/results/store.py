"""Run directories: ``results/<run-id>/records.jsonl`` + ``environment.json``.

Records are appended and flushed one by one so that a crash or Ctrl-C never
loses a finished measurement.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clusterbench.errors import ClusterbenchError
from clusterbench.results.record import Record

RECORDS = "records.jsonl"
ENVIRONMENT = "environment.json"


def new_run_id(label: str) -> str:
    """``<UTC timestamp>-<label>``, sortable and unique enough for one machine."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{label}-{os.getpid() % 10000:04d}"


class RunStore:
    """Append-only writer/reader of one run directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def create(cls, results_dir: Path, run_id: str) -> RunStore:
        """Make ``results_dir/run_id`` (must not exist yet)."""
        directory = Path(results_dir) / run_id
        directory.mkdir(parents=True, exist_ok=False)
        return cls(directory)

    def append(self, record: Record) -> None:
        """Append one record and flush it to disk immediately."""
        with open(self.directory / RECORDS, "a", encoding="utf-8") as fh:
            fh.write(record.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def records(self) -> list[Record]:
        """All records, in the order they were written."""
        path = self.directory / RECORDS
        if not path.exists():
            raise ClusterbenchError(f"{path}: no records.jsonl here; is this a run directory?")
        return list(_read_records(path))

    def write_environment(self, environment: dict[str, Any]) -> None:
        """Write ``environment.json``."""
        text = json.dumps(environment, indent=2, sort_keys=True, default=str)
        (self.directory / ENVIRONMENT).write_text(text + "\n", encoding="utf-8")

    def environment(self) -> dict[str, Any]:
        """``environment.json`` as a dict (empty when absent)."""
        path = self.directory / ENVIRONMENT
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _read_records(path: Path) -> Iterable[Record]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield Record.from_dict(json.loads(line))
        except (ValueError, TypeError) as exc:
            raise ClusterbenchError(f"{path}:{number}: not a valid record ({exc})") from None
