"""``run --profile``: a ``distributed.performance_report`` of each distributed point.

The first timed repeat of every point that runs on a dask cluster is wrapped in
:func:`distributed.performance_report` (task stream, worker profiles, bandwidth), saved as
``profiles/<point>.html`` in the run directory and linked from ``report.html``.  BokehJS
is inlined (about 1.7 MB a page) and the template's one remote reference, a favicon on
docs.dask.org, is dropped: the page opens offline and fetches nothing.  The report starts
before the timer and is written after it stops, so the measured seconds do not include
writing it; it does see the repeat's tasks.  A profile that cannot be made (bokeh missing
on the scheduler, an unwritable directory) is a warning: the repeat and its record are not
touched.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from types import TracebackType
from typing import Any

#: Directory of the run holding the performance reports (report/build.py lists it).
PROFILES_DIR = "profiles"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: The performance report template's remote favicon (fetched on load otherwise).
_REMOTE_ICON = re.compile(r"<link\b[^>]*\brel=[\"'](?:shortcut )?icon[\"'][^>]*>", re.I)
log = logging.getLogger("clusterbench.profile")


def profile_path(run_dir: Path, workload: str, size: str, scheduler: str, workers: int) -> Path:
    """``profiles/<workload>-<size>-<scheduler>-<workers>.html`` (unsafe characters → ``_``)."""
    name = _UNSAFE.sub("_", f"{workload}-{size}-{scheduler}-{workers}").strip("._") or "point"
    return Path(run_dir) / PROFILES_DIR / f"{name}.html"


class PointProfile:
    """Context manager: a performance report of what *client*'s cluster runs inside it,
    written to *path* whole or not at all; never raises for its own failures."""

    def __init__(self, client: Any, path: Path) -> None:
        self.client, self.path = client, Path(path)
        self._partial = self.path.with_name(f".{self.path.name}.tmp")
        self._report: Any = None
        self._current: Any = None
        #: Why no profile was written, or None.
        self.problem: str | None = None

    def __enter__(self) -> PointProfile:
        try:
            from distributed import performance_report

            self.path.parent.mkdir(exist_ok=True)
            # performance_report talks to the current client: make it ours for the repeat.
            self._current = self.client.as_current()
            self._current.__enter__()
            report = performance_report(filename=str(self._partial), mode="inline")
            report.__enter__()
            self._report = report
        except Exception as exc:  # bokeh missing, scheduler refusing: no profile, same repeat
            self._fail(exc)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            if self._report is not None and kind is None:
                self._report.__exit__(None, None, None)
                page = self._partial.read_text(encoding="utf-8")
                self._partial.write_text(_REMOTE_ICON.sub("", page), encoding="utf-8")
                os.replace(self._partial, self.path)
        except Exception as error:
            self._fail(error)
        finally:
            if self._current is not None:
                self._current.__exit__(None, None, None)
            self._partial.unlink(missing_ok=True)

    def _fail(self, exc: BaseException) -> None:
        text = str(exc).splitlines()[0] if str(exc) else ""
        self.problem = f"{type(exc).__name__}: {text}"
        log.warning("no performance report %s: %s", self.path.name, self.problem)
