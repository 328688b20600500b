import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.linear_model import Ridge

from ridge_decode.cli import main
from ridge_decode.ridge import OneStageRidge
from ridge_decode.ridge.shared_space import PrincipalRidge, SharedSpace, TransferRidge


def _pair(n_ref=400, n_new=400, n_test=200, k=6, t=300, seed=0):
    """Two subjects whose voxels read out the same planted latent of the images; targets = images' features."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((k, t))  # image latent -> target features (shared: features belong to images)

    def subject(n, p, s):
        r = np.random.default_rng(s)
        z = r.standard_normal((n, k))
        A = r.standard_normal((k, p))  # each subject's own voxel read-out of the latent
        X = (z @ A + 3.0 * r.standard_normal((n, p))).astype(np.float32)
        Y = (z @ W + 3.0 * r.standard_normal((n, t))).astype(np.float32)
        return X, Y

    Xr, Yr = subject(n_ref, 500, seed + 1)
    Xn, Yn = subject(n_new + n_test, 350, seed + 2)
    return Xr, Yr, Xn[:n_new], Yn[:n_new], Xn[n_new:], Yn[n_new:]


def _r(pred, true):
    p, t = pred - pred.mean(0), true - true.mean(0)
    return float(np.mean((p * t).sum(0) / np.sqrt((p * p).sum(0) * (t * t).sum(0))))


def test_transfer_beats_scratch_with_little_data_and_freezes_the_shared_part(tmp_path):
    Xr, Yr, Xn, Yn, Xt, Yt = _pair()
    ref = OneStageRidge().fit(Xr, {"y": Yr})
    shared = SharedSpace.from_reference(ref, Xr, rank=10)
    before = {g: shared.basis_[g].copy() for g in shared.groups_}
    small = slice(0, 20)  # 5% of the new subject's training images
    transfer = TransferRidge(shared).fit(Xn[small], {"y": Yn[small]})
    scratch = OneStageRidge().fit(Xn[small], {"y": Yn[small]})
    r_transfer, r_scratch = _r(transfer.predict(Xt)["y"], Yt), _r(scratch.predict(Xt)["y"], Yt)
    assert r_transfer > r_scratch + 0.05
    for g in shared.groups_:
        np.testing.assert_array_equal(shared.basis_[g], before[g])  # frozen
    full_t = _r(TransferRidge(shared).fit(Xn, {"y": Yn}).predict(Xt)["y"], Yt)
    full_s = _r(OneStageRidge().fit(Xn, {"y": Yn}).predict(Xt)["y"], Yt)
    assert abs(full_t - full_s) < 0.03  # with all the data, they match


def _standardize(X, ref):
    return (X - ref.mean(0)) / ref.std(0, ddof=1)


def _gcv(Xs, y, alpha):
    """GCV of ridge with intercept from the explicit hat matrix (float64), one value per column of y."""
    n = len(Xs)
    K = Xs @ Xs.T
    H = np.ones((n, n)) / n + K @ np.linalg.inv(K + alpha * np.eye(n))
    r = (np.eye(n) - H) @ y
    return n * (r**2).sum(0) / np.trace(np.eye(n) - H) ** 2


@pytest.mark.parametrize("n, t", [(20, 300), (150, 60)])  # fewer images than targets (Gram route), more (SVD)
def test_principal_ridge_is_ridge_with_alpha_chosen_per_principal_direction(n, t):
    _, _, Xn, Yn, Xt, _ = _pair()
    X, Y = Xn[:n].astype(np.float64), Yn[:n, :t].astype(np.float64)
    Xs, Xts = _standardize(X, X), _standardize(Xt, X)
    # the basis spans the centred targets with orthonormal columns (independent check: projection reproduces them)
    model = PrincipalRidge().fit(Xn[:n], {"y": Yn[:n, :t]})
    V = model.shared_.basis_["y"].astype(np.float64)
    Yc = Y - Y.mean(0)
    assert V.shape[1] == min(n - 1, t)
    np.testing.assert_allclose(V.T @ V, np.eye(V.shape[1]), atol=1e-5)
    np.testing.assert_allclose(Yc @ V @ V.T, Yc, atol=1e-3 * np.abs(Yc).max())
    # one alpha everywhere: exactly sklearn's ridge on the original targets (a ridge commutes with the rotation)
    one = PrincipalRidge(alphas=[300.0]).fit(Xn[:n], {"y": Yn[:n, :t]}).predict(Xt)["y"]
    ref = Ridge(alpha=300.0).fit(Xs, Y).predict(Xts)
    np.testing.assert_allclose(one, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())
    # the grid: each direction's alpha minimises the brute-force GCV of its own coordinate (up to float32 ties)
    S = Yc @ V
    alphas = np.asarray(model.alphas, dtype=float)
    gcv = np.stack([_gcv(Xs, S, a) for a in alphas])
    chosen = model.layer_.model_.alphas_["y"]
    at_chosen = gcv[np.searchsorted(alphas, chosen), np.arange(len(chosen))]
    np.testing.assert_array_less(at_chosen, gcv.min(axis=0) * (1 + 1e-3))
    assert len(set(chosen)) > 1  # the directions do get different alphas: the test is not of one alpha
    # and the predictions are sklearn's ridge per direction with those alphas, rotated back
    S_hat = np.zeros((len(Xt), S.shape[1]))
    for a in set(chosen.tolist()):
        cols = chosen == a
        S_hat[:, cols] = Ridge(alpha=a).fit(Xs, S[:, cols]).predict(Xts)
    ref = S_hat @ V.T + Y.mean(0)
    np.testing.assert_allclose(model.predict(Xt)["y"], ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())


def test_principal_scratch_separates_what_the_reference_brings():
    Xr, Yr, Xn, Yn, Xt, Yt = _pair()
    shared = SharedSpace.from_reference(OneStageRidge().fit(Xr, {"y": Yr}), Xr, rank=6)
    # with all the data, the new subject's own principal ridge does as well as the reference's basis ...
    full_t = _r(TransferRidge(shared).fit(Xn, {"y": Yn}).predict(Xt)["y"], Yt)
    full_p = _r(PrincipalRidge().fit(Xn, {"y": Yn}).predict(Xt)["y"], Yt)
    assert abs(full_p - full_t) < 0.01
    # ... with 5% of it, the reference's basis (from 400 other images) is worth more
    small = slice(0, 20)
    r_t = _r(TransferRidge(shared).fit(Xn[small], {"y": Yn[small]}).predict(Xt)["y"], Yt)
    r_p = _r(PrincipalRidge().fit(Xn[small], {"y": Yn[small]}).predict(Xt)["y"], Yt)
    assert r_t > r_p + 0.03


def test_transfer_model_round_trips_and_checks_inputs(tmp_path):
    Xr, Yr, Xn, Yn, Xt, Yt = _pair(t=12)
    ref = OneStageRidge().fit(Xr, {"a": Yr[:, :6].reshape(-1, 2, 3), "b": Yr[:, 6:]})
    shared = SharedSpace.from_reference(ref, Xr, rank=4)
    model = TransferRidge(shared).fit(Xn, {"a": Yn[:, :6].reshape(-1, 2, 3)})
    model.save(tmp_path / "t")
    loaded = TransferRidge.load(tmp_path / "t")
    pred = model.predict(Xt)
    assert pred["a"].shape == (len(Xt), 2, 3)
    np.testing.assert_array_equal(loaded.predict(Xt)["a"], pred["a"])  # the same arrays, the same code: exact
    with pytest.raises(ValueError, match=r"X must be \(n, 350\) voxels"):
        model.predict(Xt[:, :-1])
    with pytest.raises(ValueError, match=r"groups \['c'\] are not in the reference's shared space"):
        TransferRidge(shared).fit(Xn, {"c": Yn})
    with pytest.raises(ValueError, match=r"the reference model has no groups \['c'\]"):
        SharedSpace.from_reference(ref, Xr, groups=["c"])


def test_transfer_cli_reads_no_test_rows(synthetic_copy, tmp_path, monkeypatch):
    runner = CliRunner()
    base = ["--data-root", str(synthetic_copy)]
    assert runner.invoke(main, ["extract-features", *base]).exit_code == 0
    from ridge_decode.features import FeatureStore
    from ridge_decode.sources.nsd import load_subject

    new = load_subject(2, synthetic_copy, progress=False)
    test_ids = set(new.test_ids.tolist())
    reads = []
    real_read = FeatureStore.read

    def spy(self, name, ids):
        reads.append(np.asarray(ids))
        return real_read(self, name, ids)

    monkeypatch.setattr(FeatureStore, "read", spy)
    path = tmp_path / "t.json"
    res = runner.invoke(main, ["transfer", *base, "--reference", "1", "--subject", "2", "--families", "pixels",
                               "--train-fraction", "0.05,1", "--out", str(tmp_path / "o"), "--json", str(path)])
    assert res.exit_code == 0, res.output
    out = json.loads(path.read_text())
    methods = ("transfer", "scratch", "scratch_principal")
    assert {(r["fraction"], r["method"]) for r in out["results"]} == {(f, m) for f in (0.05, 1.0) for m in methods}
    assert all("pixels" in r["groups"] and r["seconds"] > 0 for r in out["results"])
    # every read of subject 2's targets for fitting is of training ids; the one read of test ids is for scoring
    fit_reads = [ids for ids in reads if not set(ids.tolist()) <= test_ids]
    assert all(not (set(ids.tolist()) & test_ids) for ids in fit_reads)
    assert path.with_suffix(".png").exists()
    res = runner.invoke(main, ["transfer", *base, "--families", "autokl", "--reference-dir",
                               str(tmp_path / "o" / "subj01"), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "has groups ['pixels'], not ['autokl']" in res.output
