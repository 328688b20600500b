import h5py
import numpy as np
import pytest
from backends import TORCH_BACKENDS
from himalaya.backend import set_backend
from himalaya.kernel_ridge import solve_kernel_ridge_eigenvalues
from sklearn.linear_model import Ridge

from ridge_decode.ridge import OneStageRidge, rescale_to_train_statistics, solve


def _data(n=120, p=300, t=6, noise=3.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).astype(np.float32)
    W = rng.standard_normal((p, t)) * (rng.random(t) * 2)
    Y = X @ W + noise * rng.standard_normal((n, t)) + 5.0
    return X, Y.astype(np.float32)


def _standardize(X, ref):
    return (X - ref.mean(0)) / ref.std(0, ddof=1)


def _brute_gcv(X, y, alphas):
    """GCV of ridge with intercept, from the explicit hat matrix (float64)."""
    Xs = _standardize(X, X).astype(np.float64)
    n = len(X)
    K = Xs @ Xs.T
    out = []
    for a in alphas:
        H = np.ones((n, n)) / n + K @ np.linalg.inv(K + a * np.eye(n))
        r = (np.eye(n) - H) @ y
        out.append(n * (r**2).sum(0) / np.trace(np.eye(n) - H) ** 2)
    return np.array(out)


class CountingTargets:
    """An array-like over ``Y`` that records every read and can fail at a chosen read, like an interrupted job."""

    def __init__(self, Y, fail_at=None):
        self.Y, self.fail_at, self.reads = Y, fail_at, []
        self.shape, self.dtype = Y.shape, Y.dtype

    def __getitem__(self, key):
        if isinstance(key, tuple):
            self.reads.append(key)
            if self.fail_at is not None and len(self.reads) == self.fail_at:
                raise KeyboardInterrupt("simulated interruption")
        return self.Y[key]


def _assert_same_choice(m1, m2, g):
    """Equal GCV curves, and equal alphas wherever the best alpha beats the runner-up by more than round-off."""
    s1, s2 = m1.cv_scores_[g], m2.cv_scores_[g]
    np.testing.assert_allclose(s1, s2, rtol=1e-4)
    top2 = np.sort(s2, axis=0)[:2]
    clear = (top2[1] - top2[0]) > 1e-4 * top2[0]
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(m1.alphas_[g][clear], m2.alphas_[g][clear])


@pytest.mark.parametrize("shape", [(120, 300), (200, 50)])  # p > n and n > p (rank-deficient kernel)
def test_gcv_matches_hat_matrix_and_choice(shape):
    X, Y = _data(*shape)
    alphas = np.logspace(-1, 5, 13)
    model = OneStageRidge(alphas=alphas, eigh_dtype="float64").fit(X, {"y": Y})
    brute = _brute_gcv(X, Y.astype(np.float64), alphas)
    np.testing.assert_allclose(model.cv_scores_["y"], brute, rtol=2e-3)
    np.testing.assert_array_equal(model.alphas_["y"], alphas[np.argmin(brute, axis=0)])


def test_per_group_alpha_minimises_summed_gcv():
    X, Y = _data()
    alphas = np.logspace(0, 5, 11)
    m = OneStageRidge(alphas=alphas, alpha_per="group", chunk_size=4).fit(X, {"y": Y})
    brute = _brute_gcv(X, Y.astype(np.float64), alphas)
    assert set(m.alphas_["y"]) == {alphas[np.argmin(brute.sum(1))]}


def test_dual_coefficients_match_himalaya_solver():
    X, Y = _data()
    m = OneStageRidge(alphas=np.logspace(0, 5, 11)).fit(X, {"y": Y})
    Xs = _standardize(X, X).astype(np.float32)
    set_backend("numpy")
    for k, alpha in enumerate(m.alphas_["y"]):
        yc = (Y[:, k : k + 1] - Y[:, k].mean()).astype(np.float32)
        ref = solve_kernel_ridge_eigenvalues(Xs @ Xs.T, yc, alpha=np.float32(alpha))
        np.testing.assert_allclose(m.dual_coef("y")[:, k : k + 1], ref, rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", *TORCH_BACKENDS])
def test_brain_diffuser_baseline_matches_sklearn_ridge(backend):
    X, Y = _data()
    Xt, _ = _data(n=40, seed=1)
    fixed = {"a": 300.0, "b": 5e4}
    m = OneStageRidge(fixed_alpha=fixed, backend=backend, chunk_size=2).fit(X, {"a": Y[:, :4], "b": Y[:, 4:]})
    assert not m.cv_scores_ and not hasattr(m, "kernel_eigenvalues_")
    pred = m.predict(Xt)
    pred_rescaled = m.predict(Xt, rescale=True)
    for g, cols in (("a", slice(0, 4)), ("b", slice(4, 6))):
        ref = Ridge(alpha=fixed[g]).fit(_standardize(X, X).astype(np.float64), Y[:, cols])
        ref_pred = ref.predict(_standardize(Xt, X))
        np.testing.assert_allclose(pred[g], ref_pred, rtol=1e-3, atol=1e-3)
        assert set(m.alphas_[g]) == {fixed[g]}
        # Brain-Diffuser's rescaling, written out as in its regression scripts
        z = (ref_pred - ref_pred.mean(0)) / ref_pred.std(0)
        np.testing.assert_allclose(pred_rescaled[g], z * Y[:, cols].std(0) + Y[:, cols].mean(0), rtol=1e-3,
                                   atol=1e-3)


def test_rescale_handles_constant_predictions():
    out = rescale_to_train_statistics(np.ones((5, 2)), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(out, [[1.0, 2.0]] * 5)


@pytest.mark.parametrize("backend", TORCH_BACKENDS)
def test_backends_agree_and_shapes_round_trip(backend):
    X, Y = _data()
    targets = {"a": Y[:, :4].reshape(-1, 2, 2), "b": Y[:, 4:]}
    m_np = OneStageRidge(backend="numpy").fit(X, targets)
    m_t = OneStageRidge(backend=backend).fit(X, targets)
    p_np, p_t = m_np.predict(X[:7]), m_t.predict(X[:7])
    assert p_np["a"].shape == (7, 2, 2) and p_np["b"].shape == (7, 2)
    assert m_np.target_shapes_ == {"a": (2, 2), "b": (2,)}
    for g in targets:
        np.testing.assert_allclose(p_np[g], p_t[g], rtol=1e-3, atol=1e-3)
        np.testing.assert_array_equal(m_np.alphas_[g], m_t.alphas_[g])


def test_float32_eigh_agrees_with_float64():
    X, Y = _data(n=150, p=400, t=20)
    m32 = OneStageRidge(eigh_dtype="float32").fit(X, {"y": Y})
    m64 = OneStageRidge(eigh_dtype="float64").fit(X, {"y": Y})
    assert (m32.alphas_["y"] == m64.alphas_["y"]).mean() >= 0.95
    np.testing.assert_allclose(m32.predict(X[:10])["y"], m64.predict(X[:10])["y"], rtol=1e-2, atol=1e-2)


def test_chunked_h5_fit_equals_in_memory_fit_and_reads_bounded_slabs(tmp_path):
    X, Y = _data(t=60)
    Y3 = Y.reshape(-1, 3, 20)
    with h5py.File(tmp_path / "targets.h5", "w") as f:
        f["pix"] = Y3
    whole = OneStageRidge(chunk_size=10_000).fit(X, {"pix": Y3})
    with h5py.File(tmp_path / "targets.h5", "r") as f:
        counted = CountingTargets(f["pix"])
        chunked = OneStageRidge(chunk_size=7, path=tmp_path / "m.h5").fit(X, {"pix": counted})
    # each read covers at most the chunk plus the partial rows of axis 1 at both ends
    assert max(k[1].stop - k[1].start for k in counted.reads) * 20 <= 7 + 2 * 20
    _assert_same_choice(chunked, whole, "pix")
    np.testing.assert_allclose(chunked.dual_coef("pix"), whole.dual_coef("pix"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(chunked.predict(X[:5])["pix"], whole.predict(X[:5])["pix"], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("alpha_per", ["target", "group"])
def test_interrupted_fit_resumes_from_last_chunk(tmp_path, monkeypatch, alpha_per):
    X, Y = _data(t=30)
    path = tmp_path / "model.h5"
    reference = OneStageRidge(alpha_per=alpha_per, chunk_size=4).fit(X, {"y": Y, "z": Y[:, :5] * 2})

    broken = CountingTargets(Y, fail_at=5)  # interrupted while reading its 5th chunk: 4 are finished
    with pytest.raises(KeyboardInterrupt):
        OneStageRidge(alpha_per=alpha_per, chunk_size=4, path=path).fit(X, {"y": broken, "z": Y[:, :5] * 2})
    assert not path.exists() and (tmp_path / "model.h5.part").exists()
    with h5py.File(tmp_path / "model.h5.part", "r") as f:
        assert f.attrs["basis_complete"] and not f.attrs["complete"]

    calls = []
    real_eigen = solve.eigen_kernel
    monkeypatch.setattr(solve, "eigen_kernel", lambda *a, **k: calls.append(1) or real_eigen(*a, **k))
    resumed_targets = CountingTargets(Y)
    resumed = OneStageRidge(alpha_per=alpha_per, chunk_size=4, path=path).fit(
        X, {"y": resumed_targets, "z": Y[:, :5] * 2})
    chunk_reads = [k for k in resumed_targets.reads if isinstance(k[1], slice)]
    n_chunks = 8 * (2 if alpha_per == "group" else 1)
    assert len(chunk_reads) == n_chunks - 4  # 4 chunks were finished before the interruption
    assert not calls  # the eigendecomposition was read back, not recomputed
    assert path.exists() and not (tmp_path / "model.h5.part").exists()
    for g in ("y", "z"):
        if alpha_per == "target":
            _assert_same_choice(resumed, reference, g)
        else:
            np.testing.assert_array_equal(resumed.alphas_[g], reference.alphas_[g])
        np.testing.assert_allclose(resumed.dual_coef(g), reference.dual_coef(g), rtol=1e-5, atol=1e-6)


def test_partial_fit_of_other_inputs_is_restarted(tmp_path):
    X, Y = _data(t=12)
    path = tmp_path / "model.h5"
    with pytest.raises(KeyboardInterrupt):
        OneStageRidge(chunk_size=4, path=path).fit(X, {"y": CountingTargets(Y, fail_at=2)})
    with pytest.warns(UserWarning, match="other inputs or parameters; starting over"):
        m = OneStageRidge(chunk_size=4, path=path).fit(X, {"y": Y * 3})
    np.testing.assert_allclose(m.y_mean_["y"], (Y * 3).mean(0), rtol=1e-5)


def test_model_round_trips_through_load(tmp_path):
    X, Y = _data()
    targets = {"img": Y[:, :4].reshape(-1, 2, 2), "txt": Y[:, 4:]}
    m = OneStageRidge(path=tmp_path / "m.h5").fit(X, targets)
    loaded = OneStageRidge.load(tmp_path / "m.h5")
    assert loaded.groups_ == ["img", "txt"] and loaded.target_shapes_ == m.target_shapes_
    for g in targets:
        np.testing.assert_array_equal(loaded.alphas_[g], m.alphas_[g])
        np.testing.assert_array_equal(loaded.cv_scores_[g], m.cv_scores_[g])
        np.testing.assert_array_equal(loaded.predict(X[:3])[g], m.predict(X[:3])[g])
    np.testing.assert_array_equal(loaded.kernel_eigenvalues_, m.kernel_eigenvalues_)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert f.attrs["complete"] and "numpy" in f.attrs["versions"]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no fitted model"):
        OneStageRidge.load(tmp_path / "absent.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="not a ridge_decode model"):
        OneStageRidge.load(tmp_path / "other.h5")


def test_bad_input():
    X, Y = _data()
    Xn = X.copy()
    Xn[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values in 1 voxels"):
        OneStageRidge().fit(Xn, {"y": Y})
    Yn = Y.copy()
    Yn[0, 2] = np.inf
    with pytest.raises(ValueError, match=r"group 'y' has NaN or infinite values in flattened targets \[2\]"):
        OneStageRidge().fit(X, {"y": Yn})
    with pytest.raises(ValueError, match="has 119 rows; X has 120"):
        OneStageRidge().fit(X, {"y": Y[:-1]})
    with pytest.raises(ValueError, match="non-empty mapping"):
        OneStageRidge().fit(X, {})
    with pytest.raises(ValueError, match="'y' is empty or 1-D"):
        OneStageRidge().fit(X, {"y": Y[:, :0]})
    with pytest.raises(TypeError, match="must hold floats"):
        OneStageRidge().fit(X.astype(np.int64), {"y": Y})
    with pytest.raises(TypeError, match="'y' must hold real numbers; found dtype bool"):
        OneStageRidge().fit(X, {"y": Y > 0})
    with pytest.raises(ValueError, match="alpha_per must be one of"):
        OneStageRidge(alpha_per="voxel").fit(X, {"y": Y})
    with pytest.raises(ValueError, match="alphas must be finite and positive"):
        OneStageRidge(alphas=[0.0, 1.0]).fit(X, {"y": Y})
    with pytest.raises(ValueError, match=r"fixed_alpha has no value for groups \['z'\]"):
        OneStageRidge(fixed_alpha={"y": 1.0}).fit(X, {"y": Y, "z": Y})
    with pytest.raises(RuntimeError, match="not fitted"):
        OneStageRidge().predict(X)
    m = OneStageRidge().fit(X, {"y": Y})
    with pytest.raises(ValueError, match="X has 299 voxels; the model was fitted on 300"):
        m.predict(X[:, :-1])
    with pytest.raises(KeyError, match="'q' is not in this model"):
        m.predict(X, groups=["q"])


def test_constant_voxels_and_targets_are_handled():
    X, Y = _data()
    Xc = X.copy()
    Xc[:, 0] = 1.0  # a constant voxel is kept and contributes nothing
    Yc = Y.copy()
    Yc[:, 1] = 7.0  # a constant target is predicted as its mean
    m = OneStageRidge(eigh_dtype="float64").fit(Xc, {"y": Yc})
    pred = m.predict(Xc)["y"]
    assert np.isfinite(pred).all()
    np.testing.assert_allclose(pred[:, 1], 7.0, rtol=1e-6)
    ref = OneStageRidge(eigh_dtype="float64").fit(X[:, 1:], {"y": Yc}).predict(X[:, 1:])["y"]
    np.testing.assert_allclose(pred, ref, rtol=1e-4, atol=1e-4)


def test_fit_leaves_its_inputs_unchanged():
    X, Y = _data()
    X0, Y0 = X.copy(), Y.copy()
    OneStageRidge(chunk_size=4).fit(X, {"y": Y})
    OneStageRidge(fixed_alpha=10.0).fit(X, {"y": Y})
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)
