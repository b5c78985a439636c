"""A ``LogisticRegression`` whose liblinear fits give the same answer in threads as alone.

liblinear draws its coordinate shuffles from ONE process-global C random
generator that every fit re-seeds (scikit-learn#8410, #31883; scikit-learn's
own suite marks ``test_logreg_l1`` thread-unsafe, PR #33080).  Two fits running
in threads of one process (dask threads, joblib threading, a multi-threaded
dask worker) interleave their streams, and an L1 fit can differ from the same
fit run alone (measured here: a mean CV score off by 1.7e-4, which reorders a
grid search's ranking).  Processes are unaffected: each has its own generator.

Imported only by the pipeline workloads (it imports scikit-learn).
"""

from __future__ import annotations

from typing import Any

import fasteners
from sklearn.linear_model import LogisticRegression

#: Fits that draw from liblinear's generator are writers; the others are readers:
#: an L2 primal fit (TRON) draws nothing, but its seeding would reset the stream
#: under a running L1 fit, so it must not start during one.
LIBLINEAR_RNG = fasteners.ReaderWriterLock()


def draws_random_numbers(estimator: LogisticRegression) -> bool:
    """Whether liblinear shuffles (L1 or dual solvers) for *estimator*'s settings."""
    l1 = estimator.penalty == "l1" or estimator.l1_ratio not in (0, None)
    return bool(estimator.dual) or l1


class ReproducibleLogisticRegression(LogisticRegression):
    """scikit-learn's ``LogisticRegression``; liblinear fits hold :data:`LIBLINEAR_RNG`.

    Same parameters, same results; the class only serialises the fits that
    use liblinear's process-global random generator against each other and
    against the other liblinear fits of the process.
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ReproducibleLogisticRegression:
        """Fit as ``LogisticRegression.fit``, holding the liblinear lock when needed."""
        if self.solver != "liblinear":
            return super().fit(X, y, sample_weight)
        guard = LIBLINEAR_RNG.write_lock if draws_random_numbers(self) else LIBLINEAR_RNG.read_lock
        with guard():
            return super().fit(X, y, sample_weight)
