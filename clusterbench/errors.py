"""User-facing errors.

Every problem a user can fix (bad inventory, unreachable host, rejected job)
is raised as a :class:`ClusterbenchError` subclass whose message is ONE line
naming the file/host/field at fault.  The CLI catches this type in one place,
prints the message and exits with :attr:`exit_code`; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class ClusterbenchError(Exception):
    """Base of every error a user can act on; ``str(err)`` is the one-line message."""

    exit_code = 1


class InventoryError(ClusterbenchError):
    """The inventory file is missing, unparsable or invalid."""

    exit_code = 2


class ScenarioError(ClusterbenchError):
    """The scenario file or a command-line narrowing of it is invalid."""

    exit_code = 2


class ConfigError(ClusterbenchError):
    """A configuration file clusterbench reads besides the inventory (dask's) is invalid."""

    exit_code = 2


class UsageError(ClusterbenchError):
    """A command-line argument is invalid."""

    exit_code = 2


class LaunchError(ClusterbenchError):
    """A scheduler, worker or job could not be started, or did not register in time."""

    exit_code = 3


class CommandError(LaunchError):
    """A shell/remote command failed; carries everything needed to diagnose it."""

    def __init__(
        self, command: str, returncode: int | None, stdout: str = "", stderr: str = "", *,
        where: str = "",
    ) -> None:
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.where = where
        tail = _tail(stderr) or _tail(stdout)
        prefix = f"{where}: " if where else ""
        super().__init__(
            f"{prefix}command {command!r} exited {returncode}" + (f": {tail}" if tail else "")
        )


class StateError(ClusterbenchError):
    """The cluster state (``up``/``down``) is not what the command needs."""

    exit_code = 4


class LabError(ClusterbenchError):
    """The virtual lab cannot be created or removed here."""

    exit_code = 5


class DiskFullError(ClusterbenchError):
    """The disk of a run directory is full (ENOSPC/EDQUOT): the sweep stops, the records
    written before stay complete."""


def _tail(text: str, lines: int = 3) -> str:
    """Last non-empty lines of *text*, joined with `` | `` so the message stays one line."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
