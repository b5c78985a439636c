"""clusterbench: provision Dask clusters on heterogeneous machines and benchmark scaling."""

from __future__ import annotations

__version__ = "0.1.0"
