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


def refuse_overwriting(output: str | Path, option: str, *stores: RunStore) -> None:
    """Refuse an *output* path that is one of the measured files of *stores*' runs (their
    records, environment or set-aside torn line): ``export RUN -o RUN/records.jsonl``
    replaced the measurements with their own export.

    Raises
    ------
    clusterbench.errors.UsageError
        Naming the option and the file.
    """
    target = Path(output).resolve()
    for store in stores:
        owned = {(store.directory / name).resolve()
                 for name in (RECORDS, ENVIRONMENT, RECORDS + ".torn")}
        if target in owned:
            raise UsageError(f"{option} {output}: that is the run's own {target.name}; "
                             "write the output somewhere else")


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
        """Make ``results_dir/run_id`` (must not exist yet).

        Raises
        ------
        clusterbench.errors.ClusterbenchError
            One line when it cannot be made (a file in the way, a read-only place).
        """
        directory = Path(results_dir) / run_id
        try:
            directory.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise ClusterbenchError(f"{results_dir}: cannot make the run directory {run_id} "
                                    f"there ({exc.strerror or exc}); choose another "
                                    "--results-dir") from None
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
        lines = _record_lines(path)
        try:
            return list(_read_records(path, lines))
        except _BadLine as bad:
            # Torn: a last line without its newline (an append cut by a crash or a full
            # disk).  A complete line that does not read is an error like any other: moving
            # it aside would lose a record someone may still mend.
            if bad.number != len(lines) or lines[-1].endswith(b"\n"):
                raise ClusterbenchError(str(bad)) from None
            self._set_aside(path, lines)
            return list(_read_records(path, lines[:-1]))

    def measured(self) -> list[Record]:
        """:meth:`records`, at least one: what ``report``, ``compare`` and ``export`` read.

        Raises
        ------
        clusterbench.errors.UsageError
            ``records.jsonl`` holds no record (an empty table would overwrite a report).
        """
        records = self.records()
        if not records:
            raise UsageError(f"{self.directory / RECORDS}: no records (nothing was measured "
                             "yet); nothing to read")
        return self.consistent(records)

    def consistent(self, records: list[Record]) -> list[Record]:
        """*records* when they are one run's, each point's repeat once (``run --resume``
        checks too: it counted a copied line as a repeat done and redrew n=3 of 2).

        Raises
        ------
        clusterbench.errors.UsageError
            Records of several runs, or a line copied twice.
        """
        path = self.directory / RECORDS
        runs = sorted({record.run_id for record in records})
        if len(runs) > 1:  # two files concatenated: every point's n and interval would be off
            raise UsageError(f"{path}: records of {len(runs)} runs ({', '.join(runs[:3])}) in "
                             "one file; a run directory holds one run")
        seen: dict[tuple, int] = {}
        for number, record in enumerate(records, 1):
            key = (record.workload, record.size, record.scheduler, record.workers,
                   record.scale, record.repeat, record.attempt)
            if key in seen:
                raise UsageError(f"{path}: record {number} repeats record {seen[key]} (same "
                                 "point, repeat and attempt): a line was copied twice")
            seen[key] = number
        return records

    def _set_aside(self, path: Path, lines: list[bytes]) -> None:
        torn = path.with_name(RECORDS + ".torn")
        kept = path.with_name(RECORDS + ".tmp")
        try:
            with open(torn, "ab") as fh:
                fh.write(lines[-1] + b"\n")
            kept.write_bytes(b"".join(lines[:-1]))  # the kept records byte for byte
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
        """``environment.json`` as a dict (empty when absent).

        Raises
        ------
        clusterbench.errors.ClusterbenchError
            One line when it is not a regular file, not UTF-8 or not a JSON object.
        """
        path = self.directory / ENVIRONMENT
        if not path.exists():
            return {}
        _regular(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ClusterbenchError(f"{path}: not UTF-8 text ({exc.reason} at byte "
                                    f"{exc.start})") from None
        except OSError as exc:
            raise ClusterbenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except (ValueError, RecursionError) as exc:
            raise ClusterbenchError(f"{path}: not valid JSON ({_reason(exc)})") from None
        if not isinstance(data, dict):
            raise ClusterbenchError(f"{path}: not a JSON object (the run's environment)")
        for key, kind in _ENVIRONMENT_SHAPES.items():  # what report, compare, resume index
            value = data.get(key)
            if value is not None and not isinstance(value, kind):
                raise ClusterbenchError(
                    f"{path}: field {key!r} must be a JSON {_JSON_NAMES[kind]}, got "
                    f"{_JSON_NAMES.get(type(value), type(value).__name__)} (hand-edited?)")
        return data


#: The shape of environment.json's fields that the readers index (None is "not recorded").
_ENVIRONMENT_SHAPES: dict[str, type] = {
    "packages": dict, "calibration": dict, "scenario": dict, "inventory": dict, "hosts": dict,
    "blas": list, "cores": int, "schema_version": int}
_JSON_NAMES: dict[type, str] = {dict: "object", list: "array", int: "number",
                                str: "string", float: "number", bool: "true/false"}


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


def _regular(path: Path) -> None:
    """A FIFO blocks its reader forever, a device never ends: refuse anything else than a
    regular file (symlinks followed)."""
    if not path.is_file():
        raise ClusterbenchError(f"{path}: not a regular file")


def _record_lines(path: Path) -> list[bytes]:
    """The lines of ``records.jsonl`` as bytes, newlines kept (rewritten byte for byte)."""
    if not path.exists():
        raise ClusterbenchError(f"{path.parent}: no {RECORDS} here; is this a run directory?")
    _regular(path)
    try:
        return path.read_bytes().splitlines(keepends=True)
    except OSError as exc:
        raise ClusterbenchError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}, line {exc.lineno} column {exc.colno}"
    return str(exc)


def _read_records(path: Path, lines: list[bytes]) -> Iterable[Record]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
            yield Record.from_dict(json.loads(text))
        except UnicodeDecodeError as exc:
            raise _BadLine(f"{path}:{number}: not UTF-8 text ({exc.reason} at byte "
                           f"{exc.start})", number) from None
        except json.JSONDecodeError as exc:
            raise _BadLine(f"{path}:{number}: not JSON ({exc.msg}, column {exc.colno})",
                           number) from None
        except RecursionError:
            raise _BadLine(f"{path}:{number}: not a record (nested too deeply)",
                           number) from None
        except (ValueError, TypeError) as exc:
            raise _BadLine(f"{path}:{number}: {exc}", number) from None
