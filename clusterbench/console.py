"""The two consoles: results on stdout, progress and notes on stderr.

A leaf module (rich only), so that the API (:mod:`clusterbench.api`), the commands and
anything else that prints share one way of writing without importing each other.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TextIO, cast

from rich.console import Console


class LineStream:
    """``sys.stdout`` or ``sys.stderr`` (looked up at each write, so redirections apply)
    that flushes the *other* stream before it writes and itself after.

    Rich flushes its own writes, but text another writer left in a stream's buffer (a
    plain ``print`` to a piped stdout, a library) used to come out later, in the middle of
    the other stream's lines when both go to one pipe or file (``2>&1``).  With every
    console write going through this, each stream's pending text is out before the other
    stream writes.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.other = "stderr" if name == "stdout" else "stdout"

    @property
    def stream(self) -> TextIO:
        """The stream written to now."""
        return getattr(sys, self.name)

    def write(self, text: str) -> int:
        """Flush the other stream, write *text* and flush it."""
        flush_quietly(getattr(sys, self.other))
        written = self.stream.write(text)
        flush_quietly(self.stream)
        return written

    def flush(self) -> None:
        """Flush the stream."""
        flush_quietly(self.stream)

    def isatty(self) -> bool:
        """Whether the stream is a terminal (rich decides colours and width by it)."""
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        """The stream's descriptor (rich reads the terminal size from it)."""
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        """The stream's encoding."""
        return getattr(self.stream, "encoding", None) or "utf-8"


def flush_quietly(stream: TextIO | None) -> None:
    """Flush *stream*, if there is one and it is still open."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # closed or no stream
        if stream is not None:
            stream.flush()


def out() -> Console:
    """Console for results (stdout); wide enough for the speedup table when piped."""
    console = Console(file=cast(TextIO, LineStream("stdout")), highlight=False)
    if not console.is_terminal:
        console.width = 200
    return console


def err() -> Console:
    """Console for progress and notes (stderr), so stdout stays parseable."""
    return Console(file=cast(TextIO, LineStream("stderr")), stderr=True, highlight=False)


def report_leftovers(found: dict[str, list[str]]) -> list[str]:
    """Print what a leftover sweep found (``down``, a managed run); the hosts that could not
    be checked."""
    from rich.markup import escape

    from clusterbench.constants import COULD_NOT_CHECK

    unverified = []
    for host, lines in found.items():
        if lines and lines[0].startswith(COULD_NOT_CHECK):
            unverified.append(host)
            err().print(f"[yellow]{host}: {escape(lines[0])}[/]")
        else:
            err().print(f"[yellow]{host}: {len(lines)} process(es) outlived close and were "
                        f"killed[/]")
    return unverified
