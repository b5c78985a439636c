"""Small helpers shared by the commands: default inventory, consoles."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

# The consoles and the default inventory live below the commands (the API uses them too);
# re-exported here for the commands.
from clusterbench.console import LineStream, err, flush_quietly, out, report_leftovers
from clusterbench.inventory.default import PACKAGED_LOCAL, default_inventory_path, inventory_from

__all__ = ["PACKAGED_LOCAL", "LineStream", "default_inventory_path", "err", "frame_records",
           "inventory_from", "out", "print_json", "report_leftovers", "stdout_to_stderr"]


def print_json(data: Any) -> None:
    """*data* as indented JSON on the real stdout (what ``--json`` promises a script);
    types JSON lacks (paths, numpy numbers) as text."""
    flush_quietly(sys.stderr)
    sys.stdout.write(json.dumps(data, indent=2, default=_plain) + "\n")
    sys.stdout.flush()


def frame_records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON-ready dicts (NaN as None, numpy numbers as Python's)."""
    return json.loads(frame.to_json(orient="records", double_precision=15))


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (NaN stays a float), anything else as text."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout to stderr meanwhile: tables, notes, and the output
    of child processes (the descriptor is redirected too), so that with ``--json`` stdout
    holds the JSON alone."""
    flush_quietly(sys.stdout)
    try:
        saved = os.dup(1)
    except OSError:  # no descriptor 1: Python-level redirection only
        saved = None
    if saved is not None:
        os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        flush_quietly(sys.stderr)
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


