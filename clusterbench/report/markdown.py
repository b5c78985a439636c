"""The Markdown report of one run (``report.md``), rendered from the content that
``report.html`` is rendered from (:mod:`clusterbench.report.content`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from clusterbench.report.content import (
    EFFICIENCY_IMAGE,
    MODES_IMAGE,
    SPEEDUP_IMAGE,
    SPEEDUP_SVG,
    STRAGGLERS_IMAGE,
    report_sections,
)
from clusterbench.report.document import to_markdown
from clusterbench.report.tables import markdown_table

__all__ = ["EFFICIENCY_IMAGE", "MODES_IMAGE", "SPEEDUP_IMAGE", "SPEEDUP_SVG", "STRAGGLERS_IMAGE",
           "markdown_table", "render_report"]


def render_report(
    summary: pd.DataFrame, fits: pd.DataFrame, environment: Mapping[str, Any], run_id: str,
    profiles: Sequence[str] = (),
) -> str:
    """Render the whole report of a run as Markdown.

    Parameters
    ----------
    summary
        Output of :func:`clusterbench.analysis.speedup.summarize`.
    fits
        Output of :func:`clusterbench.analysis.fits.scaling_fits`.
    environment
        Contents of ``environment.json``: ``hosts`` becomes the hosts table,
        ``calibration`` the capacity and overhead sections, the rest is rendered
        generically, whatever its keys.
    run_id
        Shown in the title.
    profiles
        Performance-report files of the run directory to link.

    Returns
    -------
    str
        The Markdown text; images are linked relative to the run directory.
    """
    return to_markdown(report_sections(summary, fits, environment, run_id, profiles))
