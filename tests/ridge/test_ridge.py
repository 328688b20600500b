import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from backends import TORCH_BACKENDS
from himalaya.backend import set_backend
from himalaya.kernel_ridge import solve_kernel_ridge_eigenvalues
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge

from ridge_decode.ridge import OneStageRidge, core, rescale_to_train_statistics, resolve_alphas


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

    def __getattr__(self, name):  # anything else (a feature view's signature) is the wrapped array's
        return getattr(self.Y, name)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            self.reads.append(key)
            if self.fail_at is not None and len(self.reads) == self.fail_at:
                raise KeyboardInterrupt("simulated interruption")
        return self.Y[key]


EPS32 = float(np.finfo(np.float32).eps)
EIGH_SAFETY = 4  # eigh's backward error is a small multiple of eps * ||K||; the factor is that multiple


def _eigh_error(model, alpha) -> float:
    """How far two fits may differ when their float32 eigendecompositions share no bits (another call, another
    thread count, another backend), relative to the size of what is compared, at regularisation ``alpha``.

    ``eigh`` is backward stable: each result is exact for ``K + E`` with ``||E|| ~ eps32 * s_max``. A solve with
    ``K + alpha I`` amplifies that by its condition number, so coefficients, predictions and GCV scores move by
    up to ``eps32 * s_max / (s_min + alpha)`` of their norm (``s_min`` is 0: the centred kernel has the intercept's
    null direction). The computed eigenvectors are orthogonal only to ``~n eps32``, which bounds the error at any
    alpha. On these test problems the sum is ~1e-4 at alpha = 1 and ~1e-5 at large alphas.
    """
    s = model.kernel_eigenvalues_
    return EIGH_SAFETY * EPS32 * (float(s.max()) / (float(s.min()) + float(alpha)) + len(s))


def _assert_close_columns(a, b, rel):
    """Every column (target) of ``a`` within ``rel`` of ``b`` in norm, plus float32 round-off of its entries.

    Norm-wise, because the float32 bound above is on a column as a whole: an elementwise rtol fails on a column's
    small entries (a resumed fit once differed by 1.7e-6, 0.8% of one small coefficient, within 1e-4 of the norm).
    """
    a, b = (np.asarray(v, np.float64).reshape(len(v), -1) for v in (a, b))
    err = np.linalg.norm(a - b, axis=0)
    bound = rel * np.linalg.norm(b, axis=0) + 8 * EPS32 * np.sqrt(len(b)) * np.abs(b).max()
    assert (err <= bound).all(), f"columns {np.flatnonzero(err > bound)[:5]} exceed the bound by up to " \
                                 f"{np.max(err / bound):.3g}x"


def _clear(scores, rtol):
    """Targets whose best alpha beats the runner-up by more than ``rtol``: only there must two fits agree."""
    top2 = np.sort(scores, axis=0)[:2]
    return (top2[1] - top2[0]) > rtol * top2[0]


def _assert_same_choice(m1, m2, g):
    """GCV curves equal within the eigendecomposition's error bound, and equal alphas wherever the best alpha beats
    the runner-up by more than that bound (a near-tie may go either way)."""
    s1, s2 = m1.cv_scores_[g], m2.cv_scores_[g]
    rtol = _eigh_error(m2, np.min(resolve_alphas(m2.alphas)))
    np.testing.assert_allclose(s1, s2, rtol=rtol)
    clear = _clear(s2, 2 * rtol)
    assert clear.sum() >= max(1, len(clear) // 3)  # the check has teeth: a good part of the choices are clear
    np.testing.assert_array_equal(m1.alphas_[g][clear], m2.alphas_[g][clear])


@pytest.mark.parametrize("shape", [(120, 300), (200, 50)])  # p > n and n > p (rank-deficient kernel)
def test_gcv_matches_hat_matrix_and_choice(shape):
    X, Y = _data(*shape)
    alphas = np.logspace(-1, 5, 13)
    model = OneStageRidge(alphas=alphas, eigh_dtype="float64").fit(X, {"y": Y})
    brute = _brute_gcv(X, Y.astype(np.float64), alphas)
    # float64 eigh, but the basis is rounded to float32 and the scores computed in float32: the same bound holds
    rtol = _eigh_error(model, alphas.min())
    np.testing.assert_allclose(model.cv_scores_["y"], brute, rtol=rtol)
    clear = _clear(brute, 2 * rtol)
    np.testing.assert_array_equal(model.alphas_["y"][clear], alphas[np.argmin(brute, axis=0)][clear])


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
        ref = solve_kernel_ridge_eigenvalues(Xs @ Xs.T, yc, alpha=np.float32(alpha))  # scipy's eigh, not ours
        _assert_close_columns(m.dual_coef("y")[:, k : k + 1], ref, _eigh_error(m, alpha))


@pytest.mark.parametrize("backend", ["numpy", *TORCH_BACKENDS])
def test_brain_diffuser_baseline_matches_sklearn_ridge(backend):
    X, Y = _data()
    Xt, _ = _data(n=40, seed=1)
    fixed = {"a": 300.0, "b": 5e4}
    m = OneStageRidge(solver="fixed", alphas=fixed, device=backend, chunk_size=2).fit(X, {"a": Y[:, :4],
                                                                                          "b": Y[:, 4:]})
    assert not m.cv_scores_ and not hasattr(m, "kernel_eigenvalues_")
    pred = m.predict(Xt)
    pred_rescaled = m.predict(Xt, rescale=True)
    for g, cols in (("a", slice(0, 4)), ("b", slice(4, 6))):
        ref = Ridge(alpha=fixed[g]).fit(_standardize(X, X).astype(np.float64), Y[:, cols])
        ref_pred = ref.predict(_standardize(Xt, X))
        # float32 Cholesky against float64: error ~ eps32 * cond(K + alpha I) <= 1e-6 here; 1e-3 is a loose bound
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
    m_np = OneStageRidge(device="numpy").fit(X, targets)
    m_t = OneStageRidge(device=backend).fit(X, targets)
    p_np, p_t = m_np.predict(X[:7]), m_t.predict(X[:7])
    assert p_np["a"].shape == (7, 2, 2) and p_np["b"].shape == (7, 2)
    assert m_np.target_shapes_ == {"a": (2, 2), "b": (2,)}
    for g in targets:  # each backend computes its own kernel and eigendecomposition: no bits shared
        _assert_close_columns(p_t[g], p_np[g], _eigh_error(m_np, m_np.alphas_[g].min()))
        _assert_same_choice(m_t, m_np, g)


def test_float32_eigh_agrees_with_float64():
    X, Y = _data(n=150, p=400, t=20)
    m32 = OneStageRidge(eigh_dtype="float32").fit(X, {"y": Y})
    m64 = OneStageRidge(eigh_dtype="float64").fit(X, {"y": Y})
    _assert_same_choice(m32, m64, "y")
    _assert_close_columns(m32.predict(X[:10])["y"], m64.predict(X[:10])["y"], _eigh_error(m64, 1.0))


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
    _assert_same_choice(chunked, whole, "pix")  # two fits, two eigendecompositions: the float32 bound
    err = _eigh_error(whole, whole.alphas_["pix"].min())
    _assert_close_columns(chunked.dual_coef("pix"), whole.dual_coef("pix"), err)
    _assert_close_columns(chunked.predict(X[:5])["pix"], whole.predict(X[:5])["pix"], err)


@pytest.mark.parametrize("alpha_per", ["target", "group"])
def test_interrupted_fit_resumes_from_last_chunk(tmp_path, monkeypatch, alpha_per):
    X, Y = _data(t=30)
    targets = {"y": Y, "z": Y[:, :5] * 2}

    def fit(folder, y=Y):
        return OneStageRidge(alpha_per=alpha_per, chunk_size=4, path=tmp_path / folder / "model.h5").fit(
            X, {"y": y, "z": targets["z"]})

    # A fit interrupted at its first chunk leaves the eigendecomposition on disk and no chunk done. Two copies of
    # it give two fits of exactly the same computation (the same basis bits, the same chunks, the same products).
    with pytest.raises(KeyboardInterrupt):
        fit("start", CountingTargets(Y, fail_at=1))
    for folder in ("straight", "resumed"):
        (tmp_path / folder).mkdir()
        shutil.copy(tmp_path / "start" / "model.h5.part", tmp_path / folder / "model.h5.part")
    straight = fit("straight")  # every chunk in one go

    part = tmp_path / "resumed" / "model.h5.part"
    with pytest.raises(KeyboardInterrupt):
        fit("resumed", CountingTargets(Y, fail_at=5))  # interrupted while reading its 5th chunk: 4 are finished
    assert not (tmp_path / "resumed" / "model.h5").exists() and part.exists()
    with h5py.File(part, "r") as f:
        assert f.attrs["basis_complete"] and not f.attrs["complete"] and f["groups/y/done_" + (
            "score" if alpha_per == "group" else "solve")][()].sum() == 4

    calls = []
    real_eigen = core.eigendecompose
    monkeypatch.setattr(core, "eigendecompose", lambda *a, **k: calls.append(1) or real_eigen(*a, **k))
    resumed_targets = CountingTargets(Y)
    resumed = fit("resumed", resumed_targets)
    chunk_reads = [k for k in resumed_targets.reads if isinstance(k[1], slice)]
    # 4 of the 8 chunks were finished before the interruption. With alpha_per="group" the second pass reuses the
    # projections the first pass kept on the device: those of the 4 chunks scored by the interrupted run are gone
    # with it, and those 4 chunks are read again.
    assert len(chunk_reads) == (8 - 4 if alpha_per == "target" else (8 - 4) + 4)
    assert not calls  # the eigendecomposition was read back, not recomputed
    # every call that worked on the file is in its record: the first, the interrupted one, and this one
    assert [r["chunks_done_before"] for r in resumed.runs_] == [0, 0, 4]
    assert (tmp_path / "resumed" / "model.h5").exists() and not part.exists()
    for g in targets:  # the same computation split over two calls: bit for bit the same model
        np.testing.assert_array_equal(resumed.dual_coef(g), straight.dual_coef(g))
        np.testing.assert_array_equal(resumed.alphas_[g], straight.alphas_[g])
        np.testing.assert_array_equal(resumed.cv_scores_.get(g), straight.cv_scores_.get(g))

    # Against a fit with its own eigendecomposition (no bits shared): equal within the float32 bound
    reference = OneStageRidge(alpha_per=alpha_per, chunk_size=4).fit(X, targets)
    for g in targets:
        if alpha_per == "target":
            _assert_same_choice(resumed, reference, g)
        else:
            np.testing.assert_array_equal(resumed.alphas_[g], reference.alphas_[g])
        err = _eigh_error(reference, reference.alphas_[g].min())
        _assert_close_columns(resumed.dual_coef(g), reference.dual_coef(g), err)
        _assert_close_columns(resumed.predict(X[:7])[g], reference.predict(X[:7])[g], err)


def test_a_resumed_fit_says_where_it_resumes(tmp_path, capsys):
    X, Y = _data(t=12)
    path = tmp_path / "model.h5"
    with pytest.raises(KeyboardInterrupt):
        OneStageRidge(chunk_size=4, path=path).fit(X, {"y": CountingTargets(Y, fail_at=2)})
    capsys.readouterr()
    model = OneStageRidge(chunk_size=4, path=path).fit(X, {"y": Y}, progress=True)
    assert f"resuming at chunk 2 of 3 from {path}.part" in capsys.readouterr().out
    assert [r["chunks_done_before"] for r in model.runs_] == [0, 1] and model.runs_[1]["seconds"] > 0


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
    with pytest.raises(ValueError, match=r"X has NaN or infinite values in columns \[5\]"):
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
    with pytest.raises(TypeError, match="X must hold real numbers; found dtype complex128"):
        OneStageRidge().fit(X.astype(np.complex128), {"y": Y})
    Xi = np.rint(X * 10).astype(np.int16)  # integers are numbers: the same fit as their float32 values
    np.testing.assert_array_equal(OneStageRidge().fit(Xi, {"y": Y}).predict(Xi[:5])["y"],
                                  OneStageRidge().fit(Xi.astype(np.float32), {"y": Y}).predict(Xi[:5])["y"])
    with pytest.raises(TypeError, match="'y' must hold real numbers; found dtype bool"):
        OneStageRidge().fit(X, {"y": Y > 0})
    with pytest.raises(ValueError, match="alpha_per must be one of"):
        OneStageRidge(alpha_per="voxel").fit(X, {"y": Y})
    with pytest.raises(ValueError, match=r"alphas must be .* finite positive numbers .*; got \[0.0, 1.0\] \(element 0"):
        OneStageRidge(alphas=[0.0, 1.0]).fit(X, {"y": Y})
    with pytest.raises(ValueError, match=r"alphas has no value for groups \['z'\]"):
        OneStageRidge(solver="fixed", alphas={"y": 1.0}).fit(X, {"y": Y, "z": Y})
    with pytest.raises(ValueError, match=r"go with solver='fixed'"):
        OneStageRidge(alphas={"y": 1.0}).fit(X, {"y": Y})
    with pytest.raises(ValueError, match=r"solver='fixed' takes the alpha in alphas"):
        OneStageRidge(solver="fixed", alphas=[1.0, 2.0]).fit(X, {"y": Y})
    with pytest.raises(NotFittedError, match="not fitted"):
        OneStageRidge().predict(X)
    m = OneStageRidge().fit(X, {"y": Y})
    with pytest.raises(ValueError, match="X has 299 features, but OneStageRidge is expecting 300 features as input"):
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
    other = OneStageRidge(eigh_dtype="float64").fit(X[:, 1:], {"y": Yc})
    # the float32 kernels differ by round-off (another GEMM shape), which the solve amplifies as eigh's error would
    _assert_close_columns(pred, other.predict(X[:, 1:])["y"], _eigh_error(other, other.alphas_["y"].min()))


def test_fit_leaves_its_inputs_unchanged():
    X, Y = _data()
    X0, Y0 = X.copy(), Y.copy()
    OneStageRidge(chunk_size=4).fit(X, {"y": Y})
    OneStageRidge(solver="fixed", alphas=10.0).fit(X, {"y": Y})
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_a_failed_refit_keeps_the_previous_model(tmp_path):
    X, Y = _data()
    for path in (None, tmp_path / "m.h5"):
        m = OneStageRidge(path=path).fit(X, {"y": Y})
        before = m.predict(X[:3])["y"]
        Yn = Y.copy()
        Yn[0, 2] = np.nan
        with pytest.raises(ValueError, match="NaN"):  # a lazy view: found at its first chunk, after the kernel's eigh
            m.fit(X, {"y": CountingTargets(Yn), "z": Y})
        assert m.groups_ == ["y"]
        np.testing.assert_array_equal(m.predict(X[:3])["y"], before)


def test_models_pickle_and_save(tmp_path):
    import pickle

    X, Y = _data()
    targets = {"img": Y[:, :4].reshape(-1, 2, 2), "txt": Y[:, 4:]}
    for m in (OneStageRidge().fit(X, targets), OneStageRidge(path=tmp_path / "file.h5").fit(X, targets)):
        again = pickle.loads(pickle.dumps(m))
        saved = OneStageRidge.load(m.save(tmp_path / f"saved-{id(m)}.h5"))
        for other in (again, saved):
            for g in targets:
                np.testing.assert_array_equal(other.predict(X[:5])[g], m.predict(X[:5])[g])
                np.testing.assert_array_equal(other.alphas_[g], m.alphas_[g])
    memory = OneStageRidge().fit(X, targets)
    assert memory.model_path_ is None and "h5py" not in repr(vars(memory))  # arrays, no open handle


@pytest.mark.parametrize("kind", ["array", "feature_file"])
def test_a_partial_fit_never_resumes_on_changed_targets(tmp_path, kind):
    """A target row changed after an interruption (a re-extracted feature file of the same shape) restarts the fit:
    the result equals a fresh fit of the new targets, not a mix of old and new chunks."""
    from ridge_decode.features import FeatureStore

    X, Y = _data(n=60, p=40, t=30)
    ids = np.arange(60)
    changed = Y.copy()
    changed[1] += 5.0
    store = FeatureStore(tmp_path / "features")

    def targets(values):
        if kind == "array":
            return values
        store.write("f", ids, values)
        return store.rows("f", ids)

    def interrupted(path, view):
        with pytest.raises(KeyboardInterrupt):
            OneStageRidge(chunk_size=4, path=path).fit(X, {"y": CountingTargets(view, fail_at=5)})

    view = targets(Y)
    interrupted(tmp_path / "same.h5", view)  # control: the same targets resume, with no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OneStageRidge(chunk_size=4, path=tmp_path / "same.h5").fit(X, {"y": CountingTargets(view)})
    interrupted(tmp_path / "model.h5", view)
    with pytest.warns(UserWarning, match="other inputs or parameters; starting over"):
        resumed = OneStageRidge(chunk_size=4, path=tmp_path / "model.h5").fit(
            X, {"y": CountingTargets(targets(changed))})
    fresh = OneStageRidge(chunk_size=4).fit(X, {"y": changed})
    _assert_close_columns(resumed.predict(X)["y"], fresh.predict(X)["y"], _eigh_error(fresh, 1.0))


def test_himalaya_solver_matches_the_gcv_engine_and_round_trips(tmp_path):
    """solver="himalaya" (KernelRidgeCV, 5-fold) and the default GCV choose alphas by different criteria; on the
    same data their held-out r agree within 0.01, and the himalaya fit is stored and read as any other."""
    X, Y = _data(n=400, t=40)
    X, Y, Xt, Yt = X[:200], Y[:200], X[200:], Y[200:]
    alphas = np.logspace(0, 6, 13)
    gcv = OneStageRidge(alphas=alphas).fit(X, {"y": Y})
    him = OneStageRidge(alphas=alphas, solver="himalaya", chunk_size=16, path=tmp_path / "h.h5").fit(X, {"y": Y})

    def r(model):
        P, T = model.predict(Xt)["y"] - model.predict(Xt)["y"].mean(0), Yt - Yt.mean(0)
        return float(np.mean((P * T).sum(0) / np.sqrt((P * P).sum(0) * (T * T).sum(0))))

    assert abs(r(gcv) - r(him)) < 0.01 and r(gcv) > 0.3
    assert set(him.alphas_["y"]) <= set(alphas) and him.cv_scores_["y"].shape == (13, 40)
    loaded = OneStageRidge.load(tmp_path / "h.h5")
    assert loaded.solver == "himalaya"
    np.testing.assert_array_equal(loaded.predict(Xt)["y"], him.predict(Xt)["y"])
    with pytest.raises(ValueError, match="alpha_per='target' only"):
        OneStageRidge(solver="himalaya", alpha_per="group").fit(X, {"y": Y})


def test_a_model_file_of_the_previous_format_still_loads_and_predicts():
    """tests/fixtures/model_format2.h5 was written by the engine of format /2 (before the core moved into core.py;
    it stores the raw training voxels): it loads, keeps its alphas and predicts what that engine predicted."""
    data = Path(__file__).parents[1] / "fixtures"
    with h5py.File(data / "model_format2_inputs.h5") as f:
        X_test, expected, alphas = f["X_test"][()], f["pred"][()], f["alphas"][()]
    model = OneStageRidge.load(data / "model_format2.h5")
    np.testing.assert_array_equal(model.alphas_["pix"], alphas)
    np.testing.assert_allclose(model.predict(X_test)["pix"], expected, rtol=0, atol=1e-5 * np.abs(expected).max())
