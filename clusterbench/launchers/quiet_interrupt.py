"""Worker preload: local worker processes leave Ctrl-C to clusterbench.

A terminal's Ctrl-C goes to its whole foreground process group, local Nanny workers
included; each then died printing its own ``KeyboardInterrupt`` traceback (about 68 lines
for two workers) while clusterbench was already stopping them in order.  Ignoring SIGINT in
the worker process leaves the stopping to the process that started it (its Nanny closes it,
as on any other exit).  Used as ``preload`` of the local launcher's Nanny specs.
"""

from __future__ import annotations

import signal
from typing import Any


def dask_setup(worker: Any) -> None:
    """distributed's preload hook: runs in the worker process's main thread at start."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
