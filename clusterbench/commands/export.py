"""``clusterbench export RUN --format F -o FILE``: a run in pytest-benchmark JSON, CSV or
Parquet (the conversion is :func:`clusterbench.results.export.export_run`)."""

from __future__ import annotations

import argparse

from rich.markup import escape

from clusterbench.commands.common import err, out
from clusterbench.results.export import export_run


def export(args: argparse.Namespace) -> int:
    """Write the run to ``-o``; what was left out and what was written go to stderr."""
    written = export_run(args.run_dir, args.format, args.output)
    for note in written.notes:
        err().print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)  # one line a note
    unit = "benchmark(s), one per point" if args.format == "pytest-benchmark" else \
        "row(s), one per repeat"
    out().print(f"wrote {escape(str(written.path))} ({written.rows} {unit})")
    return 0
