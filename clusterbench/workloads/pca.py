"""A ``PCA`` whose full SVD lets other threads run.

scikit-learn's ``PCA(svd_solver="full")`` computes its SVD with
``scipy.linalg.svd``.  SciPy's f2py LAPACK wrappers keep the GIL for the whole
call, so two threads fitting PCAs take turns: measured here 0.9–1.1× in two
threads, and while one thread is inside the SVD the other cannot even start its
next (GIL-free) liblinear fit.  ``numpy.linalg.svd`` calls the same LAPACK
routine (``gesdd``) from a ufunc loop that releases the GIL: 1.7–2.1× in two
threads here, singular values equal to SciPy's within 1e-12.

scikit-learn already takes NumPy's SVD for array-API inputs
(``PCA._fit_full``: ``xp.linalg.svd`` when ``is_array_api_compliant``, else
``scipy.linalg.svd``); :class:`GilReleasingPCA` takes that branch for plain
NumPy arrays too.  Turning scikit-learn's array-API dispatch on instead would
need ``SCIPY_ARRAY_API=1`` set before SciPy is imported, in every process.

Imported only by the pipeline workloads (it imports scikit-learn).
"""

from __future__ import annotations

from typing import Any

from sklearn.decomposition import PCA


class GilReleasingPCA(PCA):
    """scikit-learn's ``PCA``; the ``"full"`` solver's SVD runs in ``numpy.linalg.svd``.

    Same parameters, same components up to rounding (the same LAPACK routine,
    in NumPy's build of OpenBLAS instead of SciPy's); only the GIL is released
    during the SVD.  Other solvers are untouched.
    """

    def _fit_full(self, *args: Any, **kwargs: Any) -> Any:
        # scikit-learn 1.9 (checked): (X, n_components, xp, is_array_api_compliant); the flag
        # only chooses xp.linalg.svd (NumPy's, via array_api_compat) over scipy.linalg.svd;
        # tests/unit/test_pca_gil.py pins that.  Any other signature (a remote host with
        # another scikit-learn) passes through unchanged: SciPy's SVD, same answers.
        if len(args) == 4:
            args = (*args[:3], True)
        elif "is_array_api_compliant" in kwargs:
            kwargs["is_array_api_compliant"] = True
        return super()._fit_full(*args, **kwargs)
