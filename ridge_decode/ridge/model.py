"""``OneStageRidge``: voxels -> every target group in one kernel solve, alpha per target, chunked and resumable.

How a fit runs (n images, p voxels, t targets over all groups):

1. ``X`` is standardised with training statistics (mean, and std with ddof=1 as Brain-Diffuser does).
2. The linear kernel ``K = Xs Xs^T`` (n, n) is computed once for all groups.
3. Choosing alphas: one eigendecomposition ``K = Q diag(s) Q^T`` serves every target; GCV in the eigenbasis
   scores all alphas for a chunk of targets with one small matrix product (see ``solve``). With fixed alphas
   (the Brain-Diffuser baseline) there is nothing to choose, and one Cholesky factorisation per distinct alpha
   replaces the eigendecomposition.
4. Targets are read ``chunk_size`` columns at a time (numpy arrays, memory maps or h5py datasets alike), and
   each chunk's coefficients (n, chunk) are written to the model's HDF5 file before the next chunk is read.
   With chosen alphas they are kept in the eigenbasis, ``B = diag(1/(s+alpha)) Q^T Yc``, so the dual
   coefficients ``C = Q B`` are never formed. Peak memory is the voxel data, two n x n matrices and one chunk,
   whatever the number of targets.
5. Predictions are ``(Xs_test Xs^T Q) B`` (or ``Xs_test Xs^T C``): the test kernel is computed once, then one
   product per chunk.

With ``path`` set, the model (and the kernel's eigendecomposition) is written to ``<path>.part`` as it goes; a
fit interrupted for any reason resumes from the last finished chunk when called again with the same inputs and
parameters, and ``<path>`` appears only once the fit is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
from himalaya.backend import set_backend
from tqdm.auto import tqdm

from ..io import versions
from . import solve

DEFAULT_ALPHAS = np.logspace(0, 8, 20)
DEFAULT_CHUNK_SIZE = 4096  # targets per chunk: ~145 MB per n x chunk float32 block at NSD's n = 8859
FORMAT = "ridge_decode.OneStageRidge/1"
ALPHA_PER = ("target", "group")
BACKENDS = ("numpy", "torch", "torch_cuda")
STORAGE_COLUMNS = 512  # HDF5 chunk width of stored coefficients: a column slice reads at most this much extra


def rescale_to_train_statistics(pred: np.ndarray, y_mean: np.ndarray, y_std: np.ndarray) -> np.ndarray:
    """Brain-Diffuser's post-hoc rescaling: z-score each target's predictions over the rows given, then give
    them the training targets' mean and std.

    ``pred`` (n_test, t), ``y_mean`` and ``y_std`` (t,). The statistics of the *test predictions* are used, so
    a row's output depends on the other test rows predicted with it: it is transductive, not a property of
    the fitted model. A target whose predictions are constant gets the training mean.
    """
    pred = np.asarray(pred, dtype=np.float64)
    sd = pred.std(axis=0)
    z = np.divide(pred - pred.mean(axis=0), sd, out=np.zeros_like(pred), where=sd > 0)
    return (z * y_std + y_mean).astype(np.float32)


def _read_columns(Y, start: int, stop: int) -> np.ndarray:
    """Flattened target columns ``[start, stop)`` of ``Y`` (n, ...) as float32 (n, stop - start).

    Reads only the slab of ``Y``'s second axis that holds those columns, so h5py datasets and memory maps are
    never loaded whole.
    """
    n = Y.shape[0]
    row = int(np.prod(Y.shape[2:], dtype=np.int64))  # flattened columns per index of axis 1
    i0, i1 = start // row, -(-stop // row)
    block = np.asarray(Y[:, i0:i1]).reshape(n, -1)[:, start - i0 * row : stop - i0 * row]
    return np.array(block, dtype=np.float32)  # always a copy: the fit centres it in place


def _chunks(t: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, t)) for a in range(0, t, size)]


class OneStageRidge:
    """Kernel ridge from voxels to several target groups, alpha chosen per target (or per group) by GCV.

    Parameters
    ----------
    alphas : candidate regularisations, 1-D (default 20 values log-spaced over 1e0..1e8).
    alpha_per : "target" (one alpha per target column) or "group" (one alpha per group, the one with the lowest
        GCV error summed over the group's targets).
    fixed_alpha : None, a float, or {group: float}. When given, alphas are not chosen: every target of a group
        uses its fixed alpha (the Brain-Diffuser baseline), solved by Cholesky without an eigendecomposition.
    backend : himalaya backend, "numpy", "torch" or "torch_cuda".
    chunk_size : targets per chunk; bounds the peak memory of the target loop.
    eigh_dtype : precision of the kernel's eigendecomposition, "float32" (default) or "float64".
    path : HDF5 file for the model. The fit writes ``<path>.part`` chunk by chunk, resumes from it when
        interrupted, and renames it to ``path`` when complete. None keeps the model in memory.
    progress : show a progress bar over chunks.

    Attributes (after ``fit``)
    --------------------------
    groups_ : list of group names, in fitting order.
    target_shapes_ : {group: trailing shape}, restored on predict.
    alphas_ : {group: (t,) chosen alpha per target}.
    cv_scores_ : {group: (n_alphas, t) GCV mean squared error, in target units squared}; empty with fixed alpha.
    y_mean_, y_std_ : {group: (t,) training mean and std (ddof=0) of each target}.
    X_mean_, X_scale_ : (p,) voxel standardisation (constant voxels get scale 1 and contribute nothing).
    X_fit_ : (n, p) float32 standardised training voxels, needed to predict from dual coefficients.
    kernel_eigenvalues_ : (n,) spectrum of the training kernel (absent with fixed alpha).
    seconds_ : {stage: wall seconds} of the last fit.
    model_path_ : the HDF5 file holding the dual coefficients (None when in memory).
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, alpha_per: str = "target", fixed_alpha=None, backend: str = "numpy",
                 chunk_size: int = DEFAULT_CHUNK_SIZE, eigh_dtype: str = "float32", path=None,
                 progress: bool = False):
        self.alphas = alphas
        self.alpha_per = alpha_per
        self.fixed_alpha = fixed_alpha
        self.backend = backend
        self.chunk_size = chunk_size
        self.eigh_dtype = eigh_dtype
        self.path = path
        self.progress = progress

    # ------------------------------------------------------------------------------------------ validation
    def _check_params(self) -> np.ndarray:
        if self.alpha_per not in ALPHA_PER:
            raise ValueError(f"alpha_per must be one of {ALPHA_PER}; got {self.alpha_per!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}; got {self.backend!r}")
        if self.eigh_dtype not in ("float32", "float64"):
            raise ValueError(f"eigh_dtype must be 'float32' or 'float64'; got {self.eigh_dtype!r}")
        if int(self.chunk_size) < 1:
            raise ValueError(f"chunk_size must be a positive number of targets; got {self.chunk_size!r}")
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or not np.isfinite(alphas).all() or (alphas <= 0).any():
            raise ValueError(f"alphas must be finite and positive; got {alphas}")
        return alphas

    @staticmethod
    def _check_X(X, name: str = "X") -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_images, n_voxels); found shape {X.shape}")
        if not np.issubdtype(X.dtype, np.floating):
            raise TypeError(f"{name} must hold floats (e.g. betas / 300 as float32); found dtype {X.dtype}")
        finite = np.isfinite(X).all(axis=0)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ValueError(
                f"{name} has NaN or infinite values in {len(bad)} voxels (first columns: {bad[:5].tolist()}); "
                "drop or impute them before fitting"
            )
        return X.astype(np.float32, copy=False)

    @staticmethod
    def _check_targets(targets, n: int) -> dict:
        if not isinstance(targets, Mapping) or not targets:
            raise ValueError("targets must be a non-empty mapping {group name: array (n_images, ...)}")
        out = {}
        for name, Y in targets.items():
            if not isinstance(name, str) or not name or "/" in name:
                raise ValueError(f"target group names must be non-empty strings without '/'; got {name!r}")
            if not (hasattr(Y, "shape") and hasattr(Y, "dtype")):
                Y = np.asarray(Y)
            if len(Y.shape) < 2 or int(np.prod(Y.shape[1:])) == 0:
                raise ValueError(f"target group {name!r} is empty or 1-D: expected (n_images, ...); "
                                 f"found shape {tuple(Y.shape)}")
            if Y.shape[0] != n:
                raise ValueError(f"target group {name!r} has {Y.shape[0]} rows; X has {n}")
            if np.dtype(Y.dtype).kind not in "fiu":
                raise TypeError(f"target group {name!r} must hold real numbers; found dtype {Y.dtype}")
            out[name] = Y
        return out

    def _fixed_alphas(self, groups) -> dict | None:
        if self.fixed_alpha is None:
            return None
        if isinstance(self.fixed_alpha, Mapping):
            missing = [g for g in groups if g not in self.fixed_alpha]
            if missing:
                raise ValueError(f"fixed_alpha has no value for groups {missing}; it has {sorted(self.fixed_alpha)}")
            fixed = {g: float(self.fixed_alpha[g]) for g in groups}
        else:
            fixed = {g: float(self.fixed_alpha) for g in groups}
        bad = {g: a for g, a in fixed.items() if not (np.isfinite(a) and a > 0)}
        if bad:
            raise ValueError(f"fixed_alpha must be finite and positive; got {bad}")
        return fixed

    # ----------------------------------------------------------------------------------------------- fit
    def fit(self, X, targets: Mapping) -> OneStageRidge:
        """Fit ``X`` (n, p) float voxels to ``targets`` {group: (n, ...)}; returns self.

        Target arrays may be numpy arrays, memory maps or h5py datasets; they are read one chunk at a time.
        A target that is constant over the training images is predicted as its mean (its GCV curve is flat,
        so it gets the smallest alpha, which does not matter).
        """
        alphas = self._check_params()
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        X = self._check_X(X)
        n, p = X.shape
        targets = self._check_targets(targets, n)
        fixed = self._fixed_alphas(list(targets))
        b = set_backend(self.backend, on_error="raise")

        X_mean = X.mean(axis=0, dtype=np.float64)
        Xs = X - X_mean.astype(np.float32)
        X_scale = np.sqrt(np.einsum("ij,ij->j", Xs, Xs, dtype=np.float64) / max(n - 1, 1))
        X_scale[X_scale == 0] = 1.0  # a constant voxel carries no information; it is kept, centred to 0
        Xs /= X_scale.astype(np.float32)
        config = self._config(alphas, targets, fixed, n, p)
        fingerprint = _fingerprint(Xs, targets, config)
        seconds["standardize"] = time.perf_counter() - t0

        with self._fit_file(fingerprint, config) as (f, resumed):
            if not resumed:
                f["X_mean"], f["X_scale"], f["alphas_grid"] = X_mean, X_scale, alphas
                f["X_fit"] = Xs
            t0 = time.perf_counter()
            K = solve.linear_kernel(b, b.asarray(Xs))
            seconds["kernel"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            if fixed is None:
                s, Q = self._eigen(f, b, K)
                solver = _EigenSolver(b, s, Q, b.asarray(alphas, dtype=b.float32))
                del K
                seconds["eigh"] = time.perf_counter() - t0
            else:
                solver = _CholeskySolver(b, K)
            self._solve_all(f, targets, solver, alphas, fixed, seconds)
        self.model_path_ = None if self.path is None else Path(self.path)
        self.X_fit_ = Xs
        self._read_fitted()
        self.seconds_ = seconds
        return self

    def _config(self, alphas, targets, fixed, n, p) -> dict:
        return {
            "alphas": alphas.tolist(), "alpha_per": self.alpha_per, "fixed_alpha": fixed,
            "chunk_size": int(self.chunk_size), "eigh_dtype": self.eigh_dtype, "backend": self.backend,
            "n_images": n, "n_voxels": p,
            "groups": {g: [int(d) for d in Y.shape[1:]] for g, Y in targets.items()},
        }

    @staticmethod
    def _eigen(f, b, K):
        """Eigendecomposition of the kernel, kept in the model file: it is the basis of the stored coefficients,
        and a resumed fit reads it back instead of recomputing it."""
        if f.attrs.get("basis_complete", False):
            return b.asarray(f["kernel_eigenvalues"][()]), b.asarray(f["basis"][()])
        s, Q = solve.eigen_kernel(b, K, f.attrs["eigh_dtype"])
        f.require_dataset("kernel_eigenvalues", shape=s.shape, dtype=np.float32)[...] = b.to_numpy(s)
        f.require_dataset("basis", shape=Q.shape, dtype=np.float32)[...] = b.to_numpy(Q)
        f.flush()
        f.attrs["basis_complete"] = True
        return s, Q

    @contextmanager
    def _fit_file(self, fingerprint: str, config: dict):
        """The model file being written: in memory, a fresh ``<path>.part``, or a matching one to resume."""
        if self.path is None:
            f = h5py.File(f"ridge-{id(self)}-{time.time_ns()}", "w", driver="core", backing_store=False)
            self._write_header(f, fingerprint, config)
            self._memory_file = f
            yield f, False
            return
        path = Path(self.path)
        part = Path(str(path) + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        f = None
        if part.exists():
            try:
                f = h5py.File(part, "a")
                if f.attrs.get("fingerprint") != fingerprint:
                    warnings.warn(f"{part} is a partial fit of other inputs or parameters; starting over",
                                  stacklevel=3)
                    f.close()
                    f = None
            except OSError:
                warnings.warn(f"{part} is unreadable (interrupted while writing?); starting over", stacklevel=3)
                f = None
        resumed = f is not None
        if f is None:
            f = h5py.File(part, "w")
            self._write_header(f, fingerprint, config)
        try:
            yield f, resumed
            f.attrs["complete"] = True
        finally:
            f.close()
        os.replace(part, path)

    @staticmethod
    def _write_header(f, fingerprint, config):
        f.attrs["format"] = FORMAT
        f.attrs["fingerprint"] = fingerprint
        f.attrs["config"] = json.dumps(config)
        f.attrs["versions"] = json.dumps(versions())
        f.attrs["complete"] = False
        f.attrs["eigh_dtype"] = config["eigh_dtype"]

    def _solve_all(self, f, targets, solver, alphas, fixed, seconds):
        """The chunk loop: read, centre, choose alphas, solve, write, mark done; finished chunks are skipped."""
        n = len(f["X_fit"])
        size = int(self.chunk_size)
        two_pass = fixed is None and self.alpha_per == "group"
        plan = {g: _chunks(int(np.prod(Y.shape[1:])), size) for g, Y in targets.items()}
        bar = tqdm(total=sum(len(c) for c in plan.values()) * (2 if two_pass else 1), desc="ridge chunks",
                   unit="chunk", disable=not self.progress)
        for key in ("read", "solve", "write"):
            seconds.setdefault(key, 0.0)
        for g, Y in targets.items():
            t = int(np.prod(Y.shape[1:]))
            grp = f.require_group(f"groups/{g}")
            grp.attrs["target_shape"] = [int(d) for d in Y.shape[1:]]
            width = min(t, STORAGE_COLUMNS)
            coef = grp.require_dataset("coef", shape=(n, t), dtype=np.float32, chunks=(n, width))
            for name in ("alphas", "y_mean", "y_std"):
                grp.require_dataset(name, shape=(t,), dtype=np.float64)
            if fixed is None:
                grp.require_dataset("cv_scores", shape=(len(alphas), t), dtype=np.float32)
            passes = ("score", "solve") if two_pass else ("solve",)
            for stage in passes:
                done = grp.require_dataset(f"done_{stage}", shape=(len(plan[g]),), dtype=bool, fillvalue=False)
                group_alpha = None
                if stage == "solve" and two_pass:
                    group_alpha = float(alphas[int(np.argmin(grp["cv_scores"][()].astype(np.float64).sum(1)))])
                for k, (a, z) in enumerate(plan[g]):
                    if done[k]:
                        bar.update()
                        continue
                    t0 = time.perf_counter()
                    Yk = _read_columns(Y, a, z)
                    if not np.isfinite(Yk).all():
                        bad = a + np.flatnonzero(~np.isfinite(Yk).all(axis=0))
                        raise ValueError(f"target group {g!r} has NaN or infinite values in flattened targets "
                                         f"{bad[:5].tolist()}{' ...' if len(bad) > 5 else ''}")
                    mean = Yk.mean(axis=0, dtype=np.float64)
                    Yk -= mean.astype(np.float32)  # centred in place: no second n x chunk array
                    Yc = Yk
                    std = np.sqrt(np.einsum("ij,ij->j", Yc, Yc, dtype=np.float64) / len(Yc))
                    t1 = time.perf_counter()
                    if fixed is not None:
                        C, chosen, scores = solver.solve(Yc, fixed[g]), np.full(z - a, fixed[g]), None
                    elif stage == "score":
                        C, chosen, scores = None, None, solver.scores(Yc)
                    else:
                        C, chosen, scores = solver.solve_chosen(Yc, alphas, self.alpha_per, group_alpha)
                    t2 = time.perf_counter()
                    grp["y_mean"][a:z], grp["y_std"][a:z] = mean, std
                    if scores is not None:
                        grp["cv_scores"][:, a:z] = scores
                    if C is not None:
                        coef[:, a:z] = C
                        grp["alphas"][a:z] = chosen
                    f.flush()  # the chunk is on disk before it is marked done
                    done[k] = True
                    f.flush()
                    seconds["read"] += t1 - t0
                    seconds["solve"] += t2 - t1
                    seconds["write"] += time.perf_counter() - t2
                    bar.update()
        bar.close()

    # ---------------------------------------------------------------------------------- fitted state, I/O
    @contextmanager
    def _model_file(self):
        if getattr(self, "model_path_", None) is None:
            if not hasattr(self, "_memory_file"):
                raise RuntimeError("this OneStageRidge is not fitted yet: call fit(X, targets) first")
            yield self._memory_file
        else:
            with h5py.File(self.model_path_, "r") as f:
                yield f

    def _read_fitted(self):
        with self._model_file() as f:
            self.X_mean_ = f["X_mean"][()].astype(np.float32)
            self.X_scale_ = f["X_scale"][()].astype(np.float32)
            self.groups_ = list(json.loads(f.attrs["config"])["groups"])
            self.target_shapes_, self.alphas_, self.cv_scores_, self.y_mean_, self.y_std_ = {}, {}, {}, {}, {}
            for g in self.groups_:
                grp = f[f"groups/{g}"]
                self.target_shapes_[g] = tuple(int(d) for d in grp.attrs["target_shape"])
                self.alphas_[g] = grp["alphas"][()]
                self.y_mean_[g] = grp["y_mean"][()]
                self.y_std_[g] = grp["y_std"][()]
                if "cv_scores" in grp:
                    self.cv_scores_[g] = grp["cv_scores"][()]
            if "kernel_eigenvalues" in f:
                self.kernel_eigenvalues_ = f["kernel_eigenvalues"][()]

    @classmethod
    def load(cls, path) -> OneStageRidge:
        """A fitted model from its HDF5 file (dual coefficients stay on disk and are read chunk by chunk)."""
        path = Path(path)
        if not path.exists():
            part = Path(str(path) + ".part")
            hint = f" ({part} is an unfinished fit: run the fit again to resume it)" if part.exists() else ""
            raise FileNotFoundError(f"no fitted model at {path}{hint}")
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise ValueError(f"{path} is not a ridge_decode model: format attribute "
                                 f"{f.attrs.get('format')!r}, expected {FORMAT!r}")
            if not f.attrs.get("complete", False):
                raise ValueError(f"{path} holds an incomplete fit")
            config = json.loads(f.attrs["config"])
            X_fit = f["X_fit"][()]
        model = cls(alphas=config["alphas"], alpha_per=config["alpha_per"], fixed_alpha=config["fixed_alpha"],
                    backend=config["backend"], chunk_size=config["chunk_size"], eigh_dtype=config["eigh_dtype"],
                    path=path)
        model.model_path_ = path
        model.X_fit_ = X_fit
        model._read_fitted()
        return model

    def dual_coef(self, group: str) -> np.ndarray:
        """Dual coefficients (n_train, t) of one group, read whole: for inspection and tests."""
        self._require_group(group)
        with self._model_file() as f:
            coef = f[f"groups/{group}/coef"][()]
            return f["basis"][()] @ coef if "basis" in f else coef

    def _require_group(self, group):
        if not hasattr(self, "groups_"):
            raise RuntimeError("this OneStageRidge is not fitted yet: call fit(X, targets) first")
        if group not in self.groups_:
            raise KeyError(f"target group {group!r} is not in this model; it has {self.groups_}")

    # ------------------------------------------------------------------------------------------- predict
    def predict(self, X, groups=None, rescale: bool = False) -> dict[str, np.ndarray]:
        """Predictions {group: (n_test, ...)} float32 for ``X`` (n_test, p), trailing shapes restored.

        ``rescale=True`` applies Brain-Diffuser's rescaling by the statistics of these predictions (see
        ``rescale_to_train_statistics``): it uses the test set as a whole, and is off by default.
        """
        if not hasattr(self, "groups_"):
            raise RuntimeError("this OneStageRidge is not fitted yet: call fit(X, targets) first")
        X = self._check_X(X)
        if X.shape[1] != self.X_mean_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} voxels; the model was fitted on {self.X_mean_.shape[0]}")
        groups = list(self.groups_ if groups is None else groups)
        for g in groups:
            self._require_group(g)
        b = set_backend(self.backend, on_error="raise")
        Xs = ((X - self.X_mean_) / self.X_scale_).astype(np.float32)
        M = b.matmul(b.asarray(Xs), b.transpose(b.asarray(self.X_fit_)))  # test kernel (n_test, n)
        out = {}
        with self._model_file() as f:
            if "basis" in f:
                M = b.matmul(M, b.asarray(f["basis"][()]))
            for g in groups:
                coef = f[f"groups/{g}/coef"]
                t = coef.shape[1]
                P = np.empty((len(X), t), dtype=np.float32)
                for a, z in _chunks(t, int(self.chunk_size)):
                    P[:, a:z] = b.to_numpy(b.matmul(M, b.asarray(coef[:, a:z])))
                P += self.y_mean_[g].astype(np.float32)
                if rescale:
                    P = rescale_to_train_statistics(P, self.y_mean_[g], self.y_std_[g])
                out[g] = P.reshape((len(X),) + self.target_shapes_[g])
        return out


class _EigenSolver:
    """Choosing alphas and solving in the kernel's eigenbasis, one chunk of centred targets at a time."""

    def __init__(self, b, s, Q, alphas_b):
        self.b, self.s, self.Q, self.alphas_b = b, s, Q, alphas_b
        self.dof_weight = solve.intercept_dof_weight(b, Q)

    def _project(self, Yc):
        return self.b.matmul(self.b.transpose(self.Q), self.b.asarray(Yc))

    def scores(self, Yc) -> np.ndarray:
        b = self.b
        return b.to_numpy(solve.gcv_scores(b, self.s, self._project(Yc), self.alphas_b, self.dof_weight))

    def solve_chosen(self, Yc, alphas, alpha_per, group_alpha=None):
        """Eigenbasis coefficients (n, c), chosen alphas (c,) and GCV scores (A, c) (None if the alpha is given)."""
        b = self.b
        Z = self._project(Yc)
        if group_alpha is not None:
            chosen, scores = np.full(Z.shape[1], group_alpha), None
        else:
            scores = b.to_numpy(solve.gcv_scores(b, self.s, Z, self.alphas_b, self.dof_weight))
            chosen = alphas[np.argmin(scores, axis=0)]
        B = solve.eigen_coef(b, self.s, Z, b.asarray(chosen, dtype=b.float32))
        return b.to_numpy(B), chosen, scores


class _CholeskySolver:
    """Fixed alphas: one Cholesky factorisation per distinct alpha, reused by every chunk."""

    def __init__(self, b, K):
        self.b, self.K, self.factors = b, K, {}

    def solve(self, Yc, alpha: float) -> np.ndarray:
        if alpha not in self.factors:
            self.factors[alpha] = solve.cholesky_factor(self.b, self.K, alpha)
        return self.b.to_numpy(solve.cholesky_solve(self.b, self.factors[alpha], self.b.asarray(Yc)))


def _fingerprint(Xs: np.ndarray, targets: Mapping, config: dict) -> str:
    """A hash of the parameters and of sampled rows of every input, to decide whether a partial fit matches."""
    h = hashlib.sha1(json.dumps(config, sort_keys=True).encode())
    h.update(Xs[:: max(1, len(Xs) // 64)].tobytes())
    n = len(Xs)
    for g, Y in targets.items():
        h.update(g.encode())
        for i in sorted({0, n // 2, n - 1}):
            h.update(np.asarray(Y[i], dtype=np.float32).tobytes())
    return h.hexdigest()
