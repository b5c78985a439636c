"""GilReleasingPCA: NumPy's SVD instead of SciPy's, same answers, nothing else changed."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import scipy.linalg
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline

from clusterbench.workloads import gridsearch
from clusterbench.workloads.pca import GilReleasingPCA


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return gridsearch.prepare_pipeline("tiny", 0).X


@pytest.fixture()
def svd_calls(monkeypatch) -> dict[str, mock.Mock]:
    # Spies: the real SVDs run, the mocks count the calls.
    spies = {"numpy": mock.Mock(wraps=np.linalg.svd), "scipy": mock.Mock(wraps=scipy.linalg.svd)}
    monkeypatch.setattr(np.linalg, "svd", spies["numpy"])
    monkeypatch.setattr("sklearn.decomposition._pca.linalg.svd", spies["scipy"])
    return spies


def test_full_solver_calls_numpy_svd_not_scipy(X, svd_calls) -> None:
    # Red if scikit-learn stops routing is_array_api_compliant to xp.linalg.svd.
    GilReleasingPCA(n_components=5, svd_solver="full").fit(X)
    assert (svd_calls["numpy"].call_count, svd_calls["scipy"].call_count) == (1, 0)
    PCA(n_components=5, svd_solver="full").fit(X)
    assert (svd_calls["numpy"].call_count, svd_calls["scipy"].call_count) == (1, 1)


@pytest.mark.parametrize("n_components", [5, 20, 40])
def test_same_components_and_transform_as_scikit_learn(X, n_components) -> None:
    ours = GilReleasingPCA(n_components=n_components, svd_solver="full")
    theirs = PCA(n_components=n_components, svd_solver="full")
    np.testing.assert_allclose(ours.fit_transform(X), theirs.fit_transform(X), atol=1e-9)
    np.testing.assert_allclose(ours.components_, theirs.components_, atol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, rtol=1e-12)
    assert ours.n_components_ == theirs.n_components_


def test_other_solvers_are_untouched(X) -> None:
    ours = GilReleasingPCA(n_components=5, svd_solver="covariance_eigh").fit(X)
    theirs = PCA(n_components=5, svd_solver="covariance_eigh").fit(X)
    assert np.array_equal(ours.components_, theirs.components_)


def test_is_a_plain_estimator_for_searches() -> None:
    model = GilReleasingPCA(n_components=3, svd_solver="full", random_state=1)
    assert clone(model).get_params() == model.get_params()
    assert isinstance(model, PCA)


def test_pipeline_workloads_choose_the_svd() -> None:
    def pca_of(**params) -> object:
        pipeline = gridsearch.prepare_pipeline("tiny", 0, **params).estimator
        assert isinstance(pipeline, Pipeline)
        return pipeline.steps[0][1]

    assert type(pca_of()) is GilReleasingPCA
    assert type(pca_of(svd="scipy")) is PCA
    with pytest.raises(ValueError, match="svd must be one of numpy, scipy, got 'lapack'"):
        pca_of(svd="lapack")


def test_pipeline_aware_counts_prefix_fits_of_either_pca() -> None:
    from clusterbench.runner.modes import open_mode

    for svd in gridsearch.PCA_SVDS:
        data = gridsearch.prepare_pipeline("tiny", 0, svd=svd)
        with open_mode("synchronous", 1) as ctx:
            assert gridsearch.run_dask_ml(data, ctx).prefix_fits == 9


def test_other_scikit_learn_signatures_pass_through(monkeypatch) -> None:
    # A remote host with another scikit-learn must still fit (with SciPy's SVD), not crash.
    seen = []
    monkeypatch.setattr(PCA, "_fit_full", lambda self, *a, **k: seen.append((a, k)))
    GilReleasingPCA()._fit_full("X", 5)
    GilReleasingPCA()._fit_full("X", 5, xp="np", is_array_api_compliant=False)
    GilReleasingPCA()._fit_full("X", 5, "np", False)
    assert seen == [(("X", 5), {}),
                    (("X", 5), {"xp": "np", "is_array_api_compliant": True}),
                    (("X", 5, "np", True), {})]
