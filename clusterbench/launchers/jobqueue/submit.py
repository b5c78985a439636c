"""Submit errors: dask-jobqueue ``Job`` classes whose rejected submission is one clean line.

dask-jobqueue reports a failed submit command as a multi-line ``RuntimeError`` and
leaves the Job in a state SpecCluster's cleanup asserts on; the subclasses made by
:func:`_job_class` turn it into a :class:`~clusterbench.errors.CommandError`.
"""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from typing import Any

from clusterbench.errors import CommandError, LaunchError


class _ReportSubmitErrors:
    """Mixin for a dask-jobqueue ``Job``: a rejected submission fails cleanly and says why.

    Without it a failed ``sbatch`` leaves the Job in ``Status.created``; SpecCluster's
    cleanup then asserts on that status and the user sees ``AssertionError:
    Status.created`` instead of the queue's stderr (distributed 2026.8, jobqueue 0.9).
    """

    name: str
    status: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            # clusterbench reads the old config keys itself (QueueHost.effective, RENAMED) and
            # passes their values under the new names; the two-line FutureWarning per job
            # would only repeat what `inventory check` shows as the value's origin.
            # header_skip (no inventory field) is honoured by dask-jobqueue as it was.
            warnings.filterwarnings(
                "ignore", r"(env_extra|job_extra|extra|header_skip|project) has been renamed",
                FutureWarning)
            super().__init__(*args, **kwargs)

    async def start(self) -> None:
        try:
            await super().start()  # type: ignore[misc]
        except Exception as err:
            from distributed.core import Status

            self.status = Status.failed
            if isinstance(err, RuntimeError):
                raise _submit_error(self.name, err) from err
            raise


@functools.cache
def _job_class(path: str) -> type[Any]:
    """``module:Class`` of a dask-jobqueue Job, subclassed once with the mixin above."""
    module, _, name = path.partition(":")
    base = getattr(importlib.import_module(module), name)
    # Named after the public module, where these classes have always been said to live.
    namespace = {"__module__": __package__, "__qualname__": name, "__doc__": base.__doc__}
    return type(name, (_ReportSubmitErrors, base), namespace)


_JOBQUEUE_ERROR = re.compile(
    r"Exit code: (?P<code>-?\d+)\nCommand:\n(?P<command>.*?)\n"
    r"stdout:\n(?P<stdout>.*?)\nstderr:\n(?P<stderr>.*)",
    re.DOTALL,
)


def _submit_error(spec_name: str, err: RuntimeError) -> LaunchError:
    """dask-jobqueue's multi-line RuntimeError from the submit command, as one line."""
    match = _JOBQUEUE_ERROR.search(str(err))
    if match is None:
        last = str(err).strip().splitlines()[-1:] or ["(no message)"]
        return LaunchError(f"{spec_name}: job submission failed: {last[0]}")
    return CommandError(
        match["command"].strip(),
        int(match["code"]),
        match["stdout"],
        match["stderr"],
        where=spec_name,
    )


