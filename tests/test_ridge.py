import numpy as np
import pytest
from sklearn.linear_model import Ridge

from ridge_decode.ridge import OneStageRidge


def _data(n=120, p=300, t=6, noise=3.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).astype(np.float32)
    W = rng.standard_normal((p, t)) * (rng.random(t) * 2)
    Y = X @ W + noise * rng.standard_normal((n, t)) + 5.0
    return X, Y.astype(np.float32)


def _brute_gcv(X, y, alphas):
    """GCV of ridge with intercept, from the explicit hat matrix (float64)."""
    Xs = (X - X.mean(0)) / X.std(0)
    n = len(X)
    K = Xs.astype(np.float64) @ Xs.T.astype(np.float64)
    out = []
    for a in alphas:
        H = np.ones((n, n)) / n + K @ np.linalg.inv(K + a * np.eye(n))
        r = (np.eye(n) - H) @ y
        out.append(n * (r**2).sum(0) / np.trace(np.eye(n) - H) ** 2)
    return np.array(out)


@pytest.mark.parametrize("shape", [(120, 300), (200, 50)])  # p > n and n > p (rank-deficient kernel)
def test_gcv_matches_hat_matrix_and_choice(shape):
    X, Y = _data(*shape)
    alphas = np.logspace(-1, 5, 13)
    model = OneStageRidge(alphas=alphas).fit(X, {"y": Y})
    brute = _brute_gcv(X, Y.astype(np.float64), alphas)
    np.testing.assert_allclose(model.cv_scores_["y"], brute, rtol=2e-3)
    np.testing.assert_array_equal(model.alphas_["y"], alphas[np.argmin(brute, axis=0)])


def test_fixed_alpha_matches_sklearn_ridge():
    X, Y = _data()
    Xs = (X - X.mean(0)) / X.std(0)
    model = OneStageRidge(alphas=[300.0]).fit(X, {"y": Y})
    ref = Ridge(alpha=300.0).fit(Xs.astype(np.float64), Y)
    Xt, _ = _data(seed=1)
    np.testing.assert_allclose(model.predict(Xt)["y"], ref.predict((Xt - X.mean(0)) / X.std(0)), rtol=1e-3, atol=1e-3)


def test_backends_agree_and_shapes_round_trip():
    X, Y = _data()
    targets = {"a": Y[:, :4].reshape(-1, 2, 2), "b": Y[:, 4:]}
    m_np = OneStageRidge(backend="numpy").fit(X, targets)
    m_t = OneStageRidge(backend="torch").fit(X, targets)
    p_np, p_t = m_np.predict(X[:7]), m_t.predict(X[:7])
    assert p_np["a"].shape == (7, 2, 2) and p_np["b"].shape == (7, 2)
    for g in targets:
        np.testing.assert_allclose(p_np[g], p_t[g], rtol=1e-3, atol=1e-3)
        np.testing.assert_array_equal(m_np.alphas_[g], m_t.alphas_[g])


def test_per_group_alpha():
    X, Y = _data()
    m = OneStageRidge(alpha_per="group").fit(X, {"y": Y})
    assert len(np.unique(m.alphas_["y"])) == 1


def test_bad_input():
    X, Y = _data()
    Xn = X.copy()
    Xn[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        OneStageRidge().fit(Xn, {"y": Y})
    with pytest.raises(ValueError, match="has 119 rows; X has 120"):
        OneStageRidge().fit(X, {"y": Y[:-1]})
    with pytest.raises(ValueError, match="empty"):
        OneStageRidge().fit(X, {})
    with pytest.raises(TypeError, match="floats"):
        OneStageRidge().fit(X.astype(np.int64), {"y": Y})
    with pytest.raises(RuntimeError, match="not fitted"):
        OneStageRidge().predict(X)
    Xc = X.copy()
    Xc[:, 0] = 1.0  # a constant voxel is kept and contributes nothing
    pred = OneStageRidge().fit(Xc, {"y": Y}).predict(Xc)["y"]
    assert np.isfinite(pred).all()
