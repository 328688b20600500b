"""The runner's shape and the chunk passes' sub-blocked kernels (issues 45 and 47): how deep ``OneStageRidge.fit``
reaches the core, that a solver is registered in one place, and that the fused passes give the plain functions'
numbers."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from ridge_decode.ridge import OneStageRidge, RidgeGCV, backend, core, runner

B = backend.get("numpy")
pytestmark = pytest.mark.filterwarnings("ignore::ridge_decode.ridge.AlphaGridWarning")


def _data(n=60, p=90, t=37, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).astype(np.float32)
    W = rng.standard_normal((p, t)).astype(np.float32) * rng.uniform(0.01, 1, t).astype(np.float32)
    Y = X @ W + rng.standard_normal((n, t)).astype(np.float32) * 3 + 5
    return X, Y


# ------------------------------------------------------------------------------------- depth of the fit
def test_one_stage_fit_reaches_gcv_scores_through_at_most_four_files_and_six_frames(tmp_path):
    X, Y = _data()
    stacks = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code is core.gcv_scores.__code__:
            chain, f = [], frame
            while f is not None:
                chain.append(f)
                if f.f_code is OneStageRidge.fit.__code__:
                    stacks.append(chain)
                    return
                f = f.f_back

    for kwargs in ({"path": tmp_path / "m.h5"}, {}):  # file-backed and in memory, overlapped loop
        sys.setprofile(profile)
        try:
            OneStageRidge(chunk_size=10, **kwargs).fit(X, Y)
        finally:
            sys.setprofile(None)
    assert len(stacks) == 2 * 4  # every chunk's scores, each reached from fit
    for chain in stacks:
        files = {os.path.basename(f.f_code.co_filename) for f in chain}
        names = [f.f_code.co_name for f in reversed(chain)]
        assert len(chain) <= 6 and len(files) <= 4, (names, files)
        assert names[0] == "fit" and names[-1] == "gcv_scores"


# ------------------------------------------------------------------------------------------ the registry
def test_a_solver_registered_once_is_accepted_by_the_estimator_and_run(tmp_path):
    @runner.register
    class MeanOnly(runner.Solver):
        """Every coefficient 0: predictions are the training means."""

        name = "mean_only_test"

        @classmethod
        def build(cls, dev, st, K, run):
            return cls(dev, run)

        def solve(self, c, chunk):
            return runner.ChunkResult(coef=np.zeros_like(chunk.Yc), alphas=np.ones(chunk.Yc.shape[1]),
                                      mean=chunk.mean, std=chunk.std)

    X, Y = _data()
    try:
        with pytest.raises(ValueError, match="solver must be one of .*mean_only_test"):
            OneStageRidge(solver="nope").fit(X, Y)
        model = OneStageRidge(solver="mean_only_test", path=tmp_path / "m.h5", chunk_size=8).fit(X, Y)
        np.testing.assert_allclose(model.predict(X[:5]), np.broadcast_to(Y.mean(0), (5, Y.shape[1])), rtol=1e-5)
    finally:
        runner.SOLVERS.pop("mean_only_test")


# ------------------------------------------------------------------------------ the sub-blocked kernels
def _basis(n=50, seed=1):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n + 20)).astype(np.float32)
    s, Q = core.eigendecompose(B, A @ A.T)
    return s, Q


def _plain_scores(s, Z, alphas, w):
    """GCV errors (A, t) in float64, written out from the formula (independent of core)."""
    s, Z, w = (np.asarray(a, np.float64) for a in (s, Z, w))
    F = alphas[:, None] / (s[None, :] + alphas[:, None])
    return Z.shape[0] * (F**2 @ Z**2) / ((F @ w) ** 2)[:, None]


@pytest.mark.parametrize("rows", [1, 7, 64, None])
def test_sub_blocked_gcv_scores_and_coefficients_match_the_plain_formulas(rows):
    s, Q = _basis()
    rng = np.random.default_rng(2)
    Yc = rng.standard_normal((50, 131)).astype(np.float32) * rng.uniform(0.1, 10, 131).astype(np.float32)
    alphas = np.logspace(-1, 4, 9)
    w = core.intercept_dof_weight(B, Q)
    Z = core.project(B, Q, Yc)
    scores = core.gcv_scores(B, s, Z, alphas, w, rows=rows)
    assert scores.dtype == np.float32 and scores.shape == (9, 131)
    np.testing.assert_allclose(scores, _plain_scores(s, Z, alphas, w), rtol=2e-5)
    whole = core.gcv_scores(B, s, Z, alphas, w, rows=10_000)  # one block: the unfused pass
    np.testing.assert_allclose(scores, whole, rtol=1e-6)

    chosen = core.best_alphas(scores, alphas)
    plain = Z / (s[:, None] + chosen[None, :].astype(np.float32))
    Zc = Z.copy()
    coef = core.eigen_coef(B, s, Zc, chosen, out=Zc, rows=rows)
    assert coef is Zc and coef.dtype == np.float32
    np.testing.assert_allclose(coef, plain, rtol=1e-6)
    np.testing.assert_array_equal(core.eigen_coef(B, s, Z, chosen, rows=rows), coef)

    # alpha per target: the fused chunk solve against the plain functions one after the other
    B_, chosen_, scores_ = core.gcv_solve(B, s, Q, Yc, alphas, w, rows=rows)
    np.testing.assert_array_equal(chosen_, chosen)
    np.testing.assert_allclose(scores_, scores, rtol=1e-6)
    np.testing.assert_allclose(B_, plain, rtol=1e-6, atol=1e-7 * np.abs(plain).max())
    assert np.asarray(Yc).flags.writeable and np.isfinite(Yc).all()  # its input untouched: Z was its own


def _independent_fit(X, Y, alphas, alpha_per):
    """Kernel ridge with GCV in float64 numpy, from the formulas (mean-centred, standardised X with ddof=1)."""
    X = np.asarray(X, np.float64)
    Xs = (X - X.mean(0)) / X.std(0, ddof=1)
    Yc = Y - Y.mean(0)
    s, Q = np.linalg.eigh(Xs @ Xs.T)
    s = np.clip(s, 0, None)
    w = 1 - Q.sum(0) ** 2 / len(X)
    scores = _plain_scores(s, Q.T @ Yc, alphas, w)
    if alpha_per == "group":
        chosen = np.full(Y.shape[1], alphas[scores.sum(1).argmin()])
    else:
        chosen = alphas[scores.argmin(0)]
    C = Q @ ((Q.T @ Yc) / (s[:, None] + chosen[None, :]))
    return Xs, C, chosen


@pytest.mark.parametrize("alpha_per", ["target", "group"])
def test_fused_engine_matches_an_independent_float64_fit(alpha_per, tmp_path):
    X, Y = _data(t=45)
    alphas = np.logspace(-1, 5, 13)
    Xs, C, chosen = _independent_fit(X, Y.astype(np.float64), alphas, alpha_per)
    Xtest = _data(seed=3)[0][:7]
    Xt = (Xtest - X.astype(np.float64).mean(0)) / X.astype(np.float64).std(0, ddof=1)
    expected = Xt @ Xs.T @ C + Y.astype(np.float64).mean(0)
    for model in (OneStageRidge(alphas=alphas, alpha_per=alpha_per, chunk_size=8, path=tmp_path / alpha_per),
                  RidgeGCV(alphas=alphas, alpha_per=alpha_per, chunk_size=8)):
        model.fit(X, Y)
        got = model.alphas_["y"] if isinstance(model, OneStageRidge) else model.alphas_
        np.testing.assert_array_equal(got, chosen)
        pred = model.predict(Xtest)
        np.testing.assert_allclose(pred, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_the_basis_is_row_major_and_diagonalises_the_kernel():
    """LAPACK gives column-major eigenvectors; the engine keeps them row-major (the model file's order, written
    without a transposing copy), and they still diagonalise the kernel."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 70)).astype(np.float32)
    K = A @ A.T
    s, Q = core.eigendecompose(B, K)
    assert Q.flags.c_contiguous and Q.dtype == np.float32
    np.testing.assert_allclose(K @ Q, Q * s, atol=1e-3 * s.max())
    np.testing.assert_allclose(np.sort(s), np.linalg.eigvalsh(K.astype(np.float64)), rtol=1e-4, atol=1e-3)
    F = np.asfortranarray(Q)
    assert backend.row_major(B, F).flags.c_contiguous and np.array_equal(backend.row_major(B, F), Q)
    assert backend.row_major(B, Q) is Q
    reversed_view = F[::-1]  # negative strides: not shared with torch, copied by numpy
    assert np.array_equal(backend.row_major(B, reversed_view), Q[::-1])
