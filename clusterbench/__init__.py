"""clusterbench: provision Dask clusters on heterogeneous machines and benchmark scaling.

The Python API (:mod:`clusterbench.api`) is loaded on first use, so that importing the
package (and ``clusterbench --help``) stays fast::

    from clusterbench import Cluster, load_inventory, load_scenario, run_scenario
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Cluster", "RunResult", "load_inventory", "load_scenario", "resume_run",
           "run_scenario"]

if TYPE_CHECKING:
    from clusterbench.api import (
        Cluster,
        RunResult,
        load_inventory,
        load_scenario,
        resume_run,
        run_scenario,
    )


def __getattr__(name: str) -> Any:
    """The API's names, imported from :mod:`clusterbench.api` when first asked for."""
    if name in __all__:
        return getattr(importlib.import_module("clusterbench.api"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
