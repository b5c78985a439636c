"""Names shared by the runner, the launchers, the analysis and the report.

A leaf module: it imports nothing from the project, so that :mod:`clusterbench.analysis`
and :mod:`clusterbench.report` can name the execution modes without importing
:mod:`clusterbench.runner` (which pulls in the cluster and the workloads).  The
modes themselves are described in :mod:`clusterbench.runner.modes`.
"""

from __future__ import annotations

#: Every execution mode, in the order reports list them.
SCHEDULERS = ("synchronous", "threads", "processes", "distributed", "distributed-capacity",
              "distributed-scatter", "local-distributed")
#: Modes that run on a distributed cluster (they need a client and worker addresses).
DISTRIBUTED_MODES = frozenset({"distributed", "distributed-capacity", "distributed-scatter",
                               "local-distributed"})
#: Modes that only differ from another mode for workloads that use joblib.
JOBLIB_ONLY_MODES = frozenset({"distributed-scatter"})
#: Modes that only differ from another mode for workloads that split blocks with
#: ``ctx.block_ranges`` (dask workloads).
BLOCKS_ONLY_MODES = frozenset({"distributed-capacity"})
#: The modes that run on the inventory's cluster (they share it).
CLUSTER_MODES = ("distributed", "distributed-capacity", "distributed-scatter")
#: Overhead share of compute above which a point's tasks count as too fine.
MAX_OVERHEAD_SHARE = 0.02
#: Task length used before (or without) a calibration of the mode's overhead.
DEFAULT_MIN_TASK_SECONDS = 0.1

# Environment variables that cap BLAS/OpenMP threads in a worker process; launchers
# set them to 1 per worker thread so k workers never oversubscribe the cores.
BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: How a host that could not be checked for leftovers is reported (never as "killed").
COULD_NOT_CHECK = "could not check"
