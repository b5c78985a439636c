"""Run directories: ``results/<run-id>/records.jsonl`` + ``environment.json``.

Records are appended and flushed one by one so that a crash or Ctrl-C never
loses a finished measurement.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clusterbench.errors import ClusterbenchError, DiskFullError, UsageError
from clusterbench.results.record import Record

RECORDS = "records.jsonl"
ENVIRONMENT = "environment.json"
#: Errors of a full disk or an exhausted quota.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def new_run_id(label: str) -> str:
    """``<UTC timestamp>-<label>``, sortable and unique enough for one machine."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{label}-{os.getpid() % 10000:04d}"


class RunStore:
    """Append-only writer/reader of one run directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        #: Set by :meth:`records` when it set a torn last line aside: one line saying so.
        self.torn: str | None = None

    @classmethod
    def existing(cls, run_dir: str | Path) -> RunStore:
        """The run directory *run_dir*, checked to be one.

        Raises
        ------
        clusterbench.errors.UsageError
            When it is missing or holds no ``records.jsonl``.
        """
        directory = Path(run_dir)
        if not directory.is_dir():
            raise UsageError(f"{directory}: no such run directory")
        if not (directory / RECORDS).is_file():
            raise UsageError(f"{directory}: no {RECORDS} here; is this a run directory?")
        return cls(directory)

    @classmethod
    def create(cls, results_dir: Path, run_id: str) -> RunStore:
        """Make ``results_dir/run_id`` (must not exist yet)."""
        directory = Path(results_dir) / run_id
        directory.mkdir(parents=True, exist_ok=False)
        return cls(directory)

    def append(self, record: Record) -> None:
        """Append one record and flush it to disk immediately.

        Raises
        ------
        clusterbench.errors.DiskFullError
            When the disk is full (or the quota exhausted): the part of the line already
            written is cut off again, so the file still ends with the last complete record.
        """
        path = self.directory / RECORDS
        # A file whose last line lacks its newline (written by hand) must not glue the new
        # record onto it.
        head = "\n" if _ends_without_newline(path) else ""
        data = (head + record.to_json() + "\n").encode("utf-8")
        try:
            # Unbuffered: a buffered file that failed to flush fails again when closed.
            with open(path, "ab", buffering=0) as fh:
                size = fh.seek(0, os.SEEK_END)
                try:
                    _write_all(fh, data)
                    os.fsync(fh.fileno())
                except OSError:
                    with contextlib.suppress(OSError):  # else records() sets it aside
                        fh.truncate(size)
                    raise
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            raise self._disk_full(exc, "appending a record") from None

    def records(self) -> list[Record]:
        """All records, in the order they were written.

        A torn *last* line (a crash or a full disk in the middle of an append) is moved to
        ``records.jsonl.torn`` and named in :attr:`torn`, so the measurements before it can
        still be reported and appended to; a bad line anywhere else is an error.
        """
        path = self.directory / RECORDS
        if not path.exists():
            raise ClusterbenchError(f"{path}: no records.jsonl here; is this a run directory?")
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        try:
            return list(_read_records(path, lines))
        except _BadLine as bad:
            if bad.number != len(lines):
                raise ClusterbenchError(str(bad)) from None
            self._set_aside(path, lines)
            return list(_read_records(path, lines[:-1]))

    def _set_aside(self, path: Path, lines: list[str]) -> None:
        torn = path.with_name(RECORDS + ".torn")
        kept = path.with_name(RECORDS + ".tmp")
        try:
            with open(torn, "a", encoding="utf-8") as fh:
                fh.write(lines[-1].rstrip("\n") + "\n")
            kept.write_text("".join(lines[:-1]), encoding="utf-8")
            os.replace(kept, path)
        except OSError as exc:  # a full disk: read around the torn line, move it next time
            with contextlib.suppress(OSError):
                kept.unlink()
            self.torn = (f"{path}: the last line is torn and could not be moved aside "
                         f"({exc.strerror}); the {len(lines) - 1} records before it are used")
            return
        self.torn = (f"{path}: the last line was torn (a crash or a full disk during a "
                     f"write); moved to {torn.name}, the {len(lines) - 1} records before it "
                     f"are used")

    def write_environment(self, environment: dict[str, Any]) -> None:
        """Write ``environment.json`` (whole or not at all: the previous one stays on a
        failure).

        Raises
        ------
        clusterbench.errors.DiskFullError
            When the disk is full (or the quota exhausted).
        """
        text = json.dumps(environment, indent=2, sort_keys=True, default=str)
        path = self.directory / ENVIRONMENT
        partial = path.with_name(ENVIRONMENT + ".tmp")
        try:
            partial.write_text(text + "\n", encoding="utf-8")
            os.replace(partial, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            if exc.errno not in DISK_FULL:
                raise
            raise self._disk_full(exc, "writing environment.json") from None

    def _disk_full(self, exc: OSError, doing: str) -> DiskFullError:
        """The one line of a full disk: the directory, its free space, what was kept."""
        try:
            free = _size(shutil.disk_usage(self.directory).free)
        except OSError:
            free = "unknown"
        kept = _complete_lines(self.directory / RECORDS)
        reason = os.strerror(exc.errno or errno.ENOSPC).lower()
        return DiskFullError(f"{self.directory}: {reason} while "
                             f"{doing} ({free} free); stopped, the {kept} record(s) before it "
                             f"are kept")

    def environment(self) -> dict[str, Any]:
        """``environment.json`` as a dict (empty when absent)."""
        path = self.directory / ENVIRONMENT
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _write_all(fh: Any, data: bytes) -> None:
    """Write every byte of *data* to the unbuffered *fh* (a raw write may be partial)."""
    view = memoryview(data)
    while view:
        view = view[fh.write(view):]


def _complete_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def _size(count: int) -> str:
    """``512 B``, ``4.0 KiB``, ``1.2 GiB``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # not reached


def _ends_without_newline(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"
    except OSError:  # missing or empty
        return False


class _BadLine(Exception):
    def __init__(self, message: str, number: int) -> None:
        super().__init__(message)
        self.number = number


def _read_records(path: Path, lines: list[str]) -> Iterable[Record]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield Record.from_dict(json.loads(line))
        except (ValueError, TypeError) as exc:
            raise _BadLine(f"{path}:{number}: not a valid record ({exc})", number) from None
