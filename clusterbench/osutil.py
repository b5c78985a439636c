"""The one toolbox for the operating system: state root, processes, commands, atomic writes.

Every module that asks whether a PID lives, runs a short command or replaces a file
atomically goes through here, so that they all agree (a zombie is dead; a command
name may contain spaces; a reader never sees half a file).  Process questions are
answered by psutil, which comes with distributed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil

from clusterbench.errors import CommandError


def state_root() -> Path:
    """``$CLUSTERBENCH_STATE_DIR``, else ``~/.local/state/clusterbench`` (not created).

    Cluster state files live here, the lab in its ``lab`` subdirectory.
    """
    base = os.environ.get("CLUSTERBENCH_STATE_DIR")
    return Path(base) if base else Path.home() / ".local" / "state" / "clusterbench"


def pid_alive(pid: int | None) -> bool:
    """True when *pid* exists and is neither a zombie nor dead (None and 0 are not PIDs)."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists; we may just not look at it


def cmdline(pid: int) -> list[str]:
    """The argv of *pid* ([] when it is gone, a zombie or not ours to read)."""
    try:
        return psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def process_tree(pid: int) -> list[int]:
    """*pid* and all its descendants ([] when *pid* is gone), parents first."""
    try:
        root = psutil.Process(pid)
        return [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def signal_tree(pid: int, signum: int = signal.SIGKILL) -> list[int]:
    """Send *signum* to *pid* and every descendant; return the PIDs signalled."""
    tree = process_tree(pid)
    for member in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(member, signum)
    return tree


def run(cmd: list[str], *, where: str = "", timeout: float = 30.0) -> str:
    """Run a short command and return its stdout.

    Raises
    ------
    CommandError
        When the command is missing, times out or exits non-zero; it carries the command,
        exit code (None when it never ran to the end), stdout and stderr.
    """
    command = " ".join(cmd)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise CommandError(command, None, "", str(exc), where=where) from None
    except subprocess.TimeoutExpired:
        raise CommandError(command, None, "", f"timed out after {timeout:g} s",
                           where=where) from None
    if done.returncode != 0:
        raise CommandError(command, done.returncode, done.stdout, done.stderr, where=where)
    return done.stdout


def atomic_write(path: Path, text: str) -> None:
    """Replace *path* by *text* whole or not at all (temp file, fsync, rename).

    The temporary file is unique (two writers never share it) and removed on failure;
    the ``OSError`` is re-raised for the caller to word.
    """
    tmp = _write_temp(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """:func:`atomic_write` of *data* as indented JSON (unknown types as ``str``)."""
    atomic_write(path, json.dumps(data, indent=2, default=str) + "\n")


def create_exclusive(path: Path, text: str) -> bool:
    """Create *path* with *text* only if it does not exist; False when it does.

    Written to a temporary file first and hard-linked into place, so a reader never
    sees the file empty or half-written.
    """
    tmp = _write_temp(path, text)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _write_temp(path: Path, text: str) -> Path:
    """A unique, fsynced sibling of *path* holding *text* (mode as umask says, unlike
    ``mkstemp``'s 0600: results are meant to be read by others)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp
