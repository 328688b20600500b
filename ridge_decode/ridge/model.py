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
parameters, and ``<path>`` appears only once the fit is complete. Without ``path``, the model is a tree of numpy
arrays in memory (``MemoryModel``), so a fitted model pickles; ``save(path)`` writes either kind to one file.

The chunk loop has four parts: a plan (``_plan``: every (group, pass, chunk) still to do), a pure compute step
(``_compute``: one chunk of targets in, statistics, scores and coefficients out, no file access), a store (the
model file or the in-memory tree: a chunk is written, then marked done) and the loop that runs them in order.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
from himalaya.backend import set_backend
from tqdm.auto import tqdm

from ..errors import DataFileError, DataFormatError, InputError
from ..io import atomic_path, file_signature, resumable_h5, versions
from . import solve

DEFAULT_ALPHAS = np.logspace(0, 8, 20)
DEFAULT_CHUNK_SIZE = 4096  # targets per chunk: ~145 MB per n x chunk float32 block at NSD's n = 8859
FORMAT = "ridge_decode.OneStageRidge/1"
ALPHA_PER = ("target", "group")
BACKENDS = ("numpy", "torch", "torch_cuda")
SOLVERS = ("gcv", "himalaya")
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


class MemoryModel:
    """An in-memory stand-in for the model's HDF5 file: named numpy arrays and sub-groups, with ``attrs``.

    It offers the few h5py calls the fit and predict use (``[name]``, ``in``, ``require_group``,
    ``require_dataset``, ``attrs``), so one code path serves both; unlike an open HDF5 handle it pickles.
    """

    def __init__(self):
        self.items: dict = {}
        self.attrs: dict = {}

    def _walk(self, name: str, create: bool = False):
        node, *rest = name.split("/", 1)
        if not rest:
            return self, node
        if node not in self.items and create:
            self.items[node] = MemoryModel()
        return self.items[node]._walk(rest[0], create)

    def __contains__(self, name: str) -> bool:
        try:
            parent, key = self._walk(name)
        except KeyError:
            return False
        return key in parent.items

    def __getitem__(self, name: str):
        parent, key = self._walk(name)
        return parent.items[key]

    def __setitem__(self, name: str, value) -> None:
        parent, key = self._walk(name, create=True)
        parent.items[key] = np.array(value)

    def __iter__(self):
        return iter(self.items)

    def require_group(self, name: str) -> MemoryModel:
        parent, key = self._walk(name, create=True)
        return parent.items.setdefault(key, MemoryModel())

    def require_dataset(self, name: str, shape, dtype, fillvalue=0, **_):
        parent, key = self._walk(name, create=True)
        return parent.items.setdefault(key, np.full(shape, fillvalue, dtype=dtype))

    def flush(self) -> None:
        """Nothing to flush: the arrays are the model."""

    def write_to(self, group) -> None:
        """Copy the tree into an h5py group (or file)."""
        for k, v in self.attrs.items():
            group.attrs[k] = v
        for k, v in self.items.items():
            if isinstance(v, MemoryModel):
                v.write_to(group.require_group(k))
            else:
                group[k] = v


@dataclass(frozen=True)
class _Chunk:
    """One step of the plan: targets ``[start, stop)`` of ``group`` in ``stage`` ("score" or "solve"), index ``k``."""

    group: str
    stage: str
    k: int
    start: int
    stop: int


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
    solver : "gcv" (default: this engine's leave-one-out choice in the kernel's eigenbasis) or "himalaya": each
        chunk of targets is fitted by ``himalaya.kernel_ridge.KernelRidgeCV`` on the same (precomputed linear)
        kernel, with the same alphas and backend and ``cv``-fold cross-validation; its dual coefficients go into
        the same model file, so prediction, decoding and evaluation are unchanged. Only with
        ``alpha_per="target"`` and no ``fixed_alpha``.
    cv : folds of the "himalaya" solver (K-fold, in row order).
    solver_params : himalaya's ``solver_params`` (e.g. ``n_targets_batch``, ``n_alphas_batch``).

    Attributes (after ``fit``)
    --------------------------
    groups_ : list of group names, in fitting order.
    target_shapes_ : {group: trailing shape}, restored on predict.
    alphas_ : {group: (t,) chosen alpha per target}.
    cv_scores_ : {group: (n_alphas, t) GCV mean squared error, in target units squared (with the "himalaya"
        solver: its cross-validated mean squared error)}; empty with fixed alpha.
    y_mean_, y_std_ : {group: (t,) training mean and std (ddof=0) of each target}.
    X_mean_, X_scale_ : (p,) voxel standardisation (constant voxels get scale 1 and contribute nothing).
    X_fit_ : (n, p) float32 standardised training voxels, needed to predict from dual coefficients.
    kernel_eigenvalues_ : (n,) spectrum of the training kernel (absent with fixed alpha).
    seconds_ : {stage: wall seconds} of the last fit.
    runs_ : one dict per call that worked on this model (``started``, ``seconds`` of its chunk loop,
        ``chunks_done_before``, ``chunks``): more than one when the fit was interrupted and resumed.
    model_path_ : the HDF5 file holding the dual coefficients (None when in memory).
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, alpha_per: str = "target", fixed_alpha=None, backend: str = "numpy",
                 chunk_size: int = DEFAULT_CHUNK_SIZE, eigh_dtype: str = "float32", path=None,
                 progress: bool = False, solver: str = "gcv", cv: int = 5, solver_params: dict | None = None):
        self.solver = solver
        self.cv = cv
        self.solver_params = solver_params
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
            raise InputError(f"alpha_per must be one of {ALPHA_PER}; got {self.alpha_per!r}")
        if self.backend not in BACKENDS:
            raise InputError(f"backend must be one of {BACKENDS}; got {self.backend!r}")
        if self.eigh_dtype not in ("float32", "float64"):
            raise InputError(f"eigh_dtype must be 'float32' or 'float64'; got {self.eigh_dtype!r}")
        if self.solver not in SOLVERS:
            raise InputError(f"solver must be one of {SOLVERS}; got {self.solver!r}")
        if self.solver == "himalaya" and (self.fixed_alpha is not None or self.alpha_per != "target"):
            raise InputError("solver='himalaya' chooses one alpha per target: it takes no fixed_alpha and "
                             "alpha_per='target' only")
        if self.solver == "himalaya" and int(self.cv) < 2:
            raise InputError(f"cv must be at least 2 folds; got {self.cv!r}")
        if int(self.chunk_size) < 1:
            raise InputError(f"chunk_size must be a positive number of targets; got {self.chunk_size!r}")
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or not np.isfinite(alphas).all() or (alphas <= 0).any():
            raise InputError(f"alphas must be finite and positive; got {alphas}")
        return alphas

    @staticmethod
    def _check_X(X, name: str = "X") -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise InputError(f"{name} must be 2-D (n_images, n_voxels); found shape {X.shape}")
        if X.dtype.kind not in "biuf":  # numbers of any kind, as scikit-learn takes them; computed in float32
            raise TypeError(f"{name} must hold real numbers; found dtype {X.dtype}")
        finite = np.isfinite(X).all(axis=0)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise InputError(
                f"{name} has NaN or infinite values in {len(bad)} voxels (first columns: {bad[:5].tolist()}); "
                "drop or impute them before fitting"
            )
        if X.dtype.itemsize > 4 and X.size and np.abs(X).max() > np.finfo(np.float32).max:
            raise InputError(f"{name} overflows float32 (values up to {np.abs(X).max():.3g}; float32 holds "
                             f"{np.finfo(np.float32).max:.3g}): rescale it")
        return X.astype(np.float32, copy=False)

    @staticmethod
    def _check_targets(targets, n: int) -> dict:
        if not isinstance(targets, Mapping) or not targets:
            raise InputError("targets must be a non-empty mapping {group name: array (n_images, ...)}")
        out = {}
        for name, Y in targets.items():
            if not isinstance(name, str) or not name or "/" in name:
                raise InputError(f"target group names must be non-empty strings without '/'; got {name!r}")
            if not (hasattr(Y, "shape") and hasattr(Y, "dtype")):
                Y = np.asarray(Y)
            if len(Y.shape) < 2 or int(np.prod(Y.shape[1:])) == 0:
                raise InputError(f"target group {name!r} is empty or 1-D: expected (n_images, ...); "
                                 f"found shape {tuple(Y.shape)}")
            if Y.shape[0] != n:
                raise InputError(f"target group {name!r} has {Y.shape[0]} rows; X has {n}")
            if np.dtype(Y.dtype).kind not in "fiu":
                raise TypeError(f"target group {name!r} must hold real numbers; found dtype {Y.dtype}")
            if isinstance(Y, np.ndarray) and not np.isfinite(Y).all():  # in memory: cheap to check before any work
                flat = np.isfinite(Y.reshape(len(Y), -1)).all(axis=0)
                bad = np.flatnonzero(~flat)
                raise InputError(f"target group {name!r} has NaN or infinite values in flattened targets "
                                 f"{bad[:5].tolist()}{' ...' if len(bad) > 5 else ''}")
            out[name] = Y
        return out

    def _fixed_alphas(self, groups) -> dict | None:
        if self.fixed_alpha is None:
            return None
        if isinstance(self.fixed_alpha, Mapping):
            missing = [g for g in groups if g not in self.fixed_alpha]
            if missing:
                raise InputError(f"fixed_alpha has no value for groups {missing}; it has {sorted(self.fixed_alpha)}")
            fixed = {g: float(self.fixed_alpha[g]) for g in groups}
        else:
            fixed = {g: float(self.fixed_alpha) for g in groups}
        bad = {g: a for g, a in fixed.items() if not (np.isfinite(a) and a > 0)}
        if bad:
            raise InputError(f"fixed_alpha must be finite and positive; got {bad}")
        return fixed

    # ----------------------------------------------------------------------------------------------- fit
    def fit(self, X, targets: Mapping) -> OneStageRidge:
        """Fit ``X`` (n, p) float voxels to ``targets`` {group: (n, ...)}; returns self.

        Target arrays may be numpy arrays, memory maps, h5py datasets or the feature cache's lazy rows; they are
        read one chunk at a time. A target that is constant over the training images is predicted as its mean
        (its GCV curve is flat, so it gets the smallest alpha, which does not matter). The fitted attributes are
        set only when the fit succeeds: a fit that raises leaves a previous fit's attributes as they were.
        """
        alphas = self._check_params()
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        X = self._check_X(X)
        n, p = X.shape
        targets = self._check_targets(targets, n)
        fixed = self._fixed_alphas(list(targets))
        b = set_backend(self.backend, on_error="raise")

        Xs, X_mean, X_scale = _standardize(X)
        config = self._config(alphas, targets, fixed, n, p)
        seconds["standardize"] = time.perf_counter() - t0

        if self.path is None:  # nothing to resume: no fingerprint
            store = nullcontext((MemoryModel(), False))
        else:
            t0 = time.perf_counter()
            plan = _fingerprint(Xs, targets, config)
            seconds["fingerprint"] = time.perf_counter() - t0
            store = resumable_h5(self.path, plan, mismatch="is a partial fit of other inputs or parameters")
        with store as (f, resumed):
            if not resumed:
                _write_header(f, config)
                f["X_mean"], f["X_scale"], f["alphas_grid"] = X_mean, X_scale, alphas
                f["X_fit"] = Xs
            t0 = time.perf_counter()
            K = solve.linear_kernel(b, b.asarray(Xs))
            seconds["kernel"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            if self.solver == "himalaya":  # dual coefficients, no eigenbasis: predict reads them as they are
                solver = _HimalayaSolver(b, K, alphas, int(self.cv), self.solver_params)
            elif fixed is None:
                s, Q = _eigen(f, b, K)
                solver = _EigenSolver(b, s, Q, b.asarray(alphas, dtype=b.float32))
                del K
                seconds["eigh"] = time.perf_counter() - t0
            else:
                solver = _CholeskySolver(b, K)
            seconds.update(self._solve_all(f, targets, solver, alphas, fixed, resumed))
            f.attrs["complete"] = True
            runs = json.loads(f.attrs["runs"])
        # success: only now does the estimator take the new model
        self._set_fitted(f if self.path is None else None, Path(self.path) if self.path is not None else None, Xs)
        self.seconds_ = seconds
        self.runs_ = runs
        return self

    def _config(self, alphas, targets, fixed, n, p) -> dict:
        return {
            "alphas": alphas.tolist(), "alpha_per": self.alpha_per, "fixed_alpha": fixed,
            "chunk_size": int(self.chunk_size), "eigh_dtype": self.eigh_dtype, "backend": self.backend,
            "solver": self.solver, "cv": int(self.cv) if self.solver == "himalaya" else None,
            "solver_params": self.solver_params if self.solver == "himalaya" else None,
            "n_images": n, "n_voxels": p,
            "groups": {g: [int(d) for d in Y.shape[1:]] for g, Y in targets.items()},
        }

    # ---------------------------------------------------------------------------------------- chunk loop
    def _plan(self, targets, two_pass: bool) -> list[_Chunk]:
        """Every (group, stage, chunk) of the fit, in order; the store's ``done_<stage>`` flags say which are done."""
        size = int(self.chunk_size)
        stages = ("score", "solve") if two_pass else ("solve",)
        return [_Chunk(g, stage, k, a, z) for g, Y in targets.items() for stage in stages
                for k, (a, z) in enumerate(_chunks(int(np.prod(Y.shape[1:])), size))]

    def _solve_all(self, f, targets, solver, alphas, fixed, resumed: bool = False) -> dict[str, float]:
        """Run the plan: read a chunk, compute it, store it (then mark it done); chunks already done are skipped.
        Returns the seconds spent reading, solving and writing. Every call is recorded in the model's ``runs``
        attribute (when it started, its seconds, the chunks done before it), updated after each chunk, so a
        resumed fit keeps the time of every run; a resumed one says where it resumes.

        With one alpha per group, the first pass scores every chunk and keeps its projected targets ``Q^T Yc`` in
        the coefficient dataset; the second pass only divides them by ``s + alpha``: targets are read once.
        """
        n = len(f["X_fit"])
        two_pass = fixed is None and self.alpha_per == "group"
        plan = self._plan(targets, two_pass)
        for g, Y in targets.items():
            _layout_group(f, g, Y, n, len(alphas), fixed is None, two_pass, self.chunk_size)
        todo = [c for c in plan if not f[f"groups/{c.group}/done_{c.stage}"][c.k]]
        runs = json.loads(f.attrs.get("runs", "[]")) if resumed else []
        runs.append({"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seconds": 0.0,
                     "chunks_done_before": len(plan) - len(todo), "chunks": len(plan)})
        started = time.perf_counter()
        if resumed and self.progress:
            tqdm.write(f"resuming at chunk {len(plan) - len(todo) + 1} of {len(plan)} from {self.path}.part")
        f.attrs["runs"] = json.dumps(runs)
        bar = tqdm(total=len(plan), initial=len(plan) - len(todo), desc="ridge chunks", unit="chunk",
                   disable=not self.progress)
        seconds = dict.fromkeys(("read", "solve", "write"), 0.0)
        for c in todo:
            grp = f[f"groups/{c.group}"]
            t0 = time.perf_counter()
            if c.stage == "solve" and two_pass:  # the projected targets stored by the score pass
                Yk, group_alpha = grp["coef"][:, c.start : c.stop], _group_alpha(grp, alphas)
            else:
                Yk, group_alpha = _read_columns(targets[c.group], c.start, c.stop), None
            t1 = time.perf_counter()
            out = _compute(c, Yk, solver, alphas, fixed, group_alpha, two_pass)
            t2 = time.perf_counter()
            _store(f, grp, c, out)
            seconds["read"] += t1 - t0
            seconds["solve"] += t2 - t1
            seconds["write"] += time.perf_counter() - t2
            runs[-1]["seconds"] = time.perf_counter() - started
            f.attrs["runs"] = json.dumps(runs)
            bar.update()
        bar.close()
        runs[-1]["seconds"] = time.perf_counter() - started
        f.attrs["runs"] = json.dumps(runs)
        return seconds

    # ---------------------------------------------------------------------------------- fitted state, I/O
    def _set_fitted(self, memory: MemoryModel | None, path: Path | None, X_fit: np.ndarray) -> None:
        """Take a finished model: the in-memory tree, or the file at ``path``; read its small arrays."""
        with (nullcontext(memory) if memory is not None else h5py.File(path, "r")) as f:
            groups = list(json.loads(f.attrs["config"])["groups"])
            self.X_mean_ = f["X_mean"][()].astype(np.float32)
            self.X_scale_ = f["X_scale"][()].astype(np.float32)
            self.target_shapes_, self.alphas_, self.cv_scores_, self.y_mean_, self.y_std_ = {}, {}, {}, {}, {}
            for g in groups:
                grp = f[f"groups/{g}"]
                self.target_shapes_[g] = tuple(int(d) for d in grp.attrs["target_shape"])
                self.alphas_[g] = np.array(grp["alphas"][()])
                self.y_mean_[g] = np.array(grp["y_mean"][()])
                self.y_std_[g] = np.array(grp["y_std"][()])
                if "cv_scores" in grp:
                    self.cv_scores_[g] = np.array(grp["cv_scores"][()])
            if "kernel_eigenvalues" in f:
                self.kernel_eigenvalues_ = np.array(f["kernel_eigenvalues"][()])
            elif hasattr(self, "kernel_eigenvalues_"):
                del self.kernel_eigenvalues_
        self.groups_ = groups
        self.X_fit_ = X_fit
        self.model_path_ = path
        self.memory_model_ = memory

    def _check_is_fitted(self) -> None:
        """The one question "is it fitted?": a RuntimeError saying how to fit it otherwise."""
        if not hasattr(self, "groups_"):
            raise RuntimeError("this OneStageRidge is not fitted yet: call fit(X, targets) first")

    @contextmanager
    def _model_file(self):
        """The fitted model's arrays: the in-memory tree, or the model file opened read-only."""
        self._check_is_fitted()
        if self.memory_model_ is not None:
            yield self.memory_model_
        else:
            with h5py.File(self.model_path_, "r") as f:
                yield f

    def save(self, path) -> Path:
        """Write the fitted model to one HDF5 file at ``path`` (atomically), readable by ``OneStageRidge.load``."""
        self._check_is_fitted()
        path = Path(path)
        if self.model_path_ is not None and self.model_path_.resolve() == path.resolve():
            return path
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as out, self._model_file() as f:
            if isinstance(f, MemoryModel):
                f.write_to(out)
            else:
                for key in f:
                    f.copy(key, out)
                for k, v in f.attrs.items():
                    out.attrs[k] = v
        return path

    @classmethod
    def load(cls, path) -> OneStageRidge:
        """A fitted model from its HDF5 file (dual coefficients stay on disk and are read chunk by chunk).

        The loaded model is file-backed: it holds the path (and its small arrays), and pickles as such.
        """
        path = Path(path)
        if not path.exists():
            part = Path(str(path) + ".part")
            hint = f" ({part} is an unfinished fit: run the fit again to resume it)" if part.exists() else ""
            raise DataFileError(f"no fitted model at {path}{hint}")
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise DataFormatError(f"{path} is not a ridge_decode model: format attribute "
                                      f"{f.attrs.get('format')!r}, expected {FORMAT!r}")
            if not f.attrs.get("complete", False):
                raise DataFormatError(f"{path} holds an incomplete fit")
            config = json.loads(f.attrs["config"])
            X_fit = f["X_fit"][()]
        model = cls(alphas=config["alphas"], alpha_per=config["alpha_per"], fixed_alpha=config["fixed_alpha"],
                    backend=config["backend"], chunk_size=config["chunk_size"], eigh_dtype=config["eigh_dtype"],
                    path=path, solver=config.get("solver", "gcv"), cv=config.get("cv") or 5,
                    solver_params=config.get("solver_params"))
        model._set_fitted(None, path, X_fit)
        return model

    def dual_coef(self, group: str) -> np.ndarray:
        """Dual coefficients (n_train, t) of one group, read whole: for inspection and tests."""
        self._require_group(group)
        with self._model_file() as f:
            coef = np.array(f[f"groups/{group}/coef"][()])
            return np.array(f["basis"][()]) @ coef if "basis" in f else coef

    def _require_group(self, group):
        self._check_is_fitted()
        if group not in self.groups_:
            raise KeyError(f"target group {group!r} is not in this model; it has {self.groups_}")

    # ------------------------------------------------------------------------------------------- predict
    def predict(self, X, groups=None, rescale: bool = False, dtype="float32") -> dict[str, np.ndarray]:
        """Predictions {group: (n_test, ...)} for ``X`` (n_test, p), trailing shapes restored.

        ``rescale=True`` applies Brain-Diffuser's rescaling by the statistics of these predictions (see
        ``rescale_to_train_statistics``): it uses the test set as a whole, and is off by default. ``dtype`` is
        that of the products with the stored (float32) model and of the result: "float64" makes each row's
        prediction independent of the other rows to float64 rounding (``RidgeGCV`` uses it).
        """
        self._check_is_fitted()
        X = self._check_X(X)
        if X.shape[1] != self.X_mean_.shape[0]:
            raise InputError(f"X has {X.shape[1]} voxels; the model was fitted on {self.X_mean_.shape[0]}")
        groups = list(self.groups_ if groups is None else groups)
        for g in groups:
            self._require_group(g)
        b = set_backend(self.backend, on_error="raise")
        dt = np.dtype(dtype)
        Xs = ((X - self.X_mean_) / self.X_scale_).astype(np.float32).astype(dt)
        M = b.matmul(b.asarray(Xs), b.transpose(b.asarray(self.X_fit_.astype(dt))))  # test kernel (n_test, n)
        out = {}
        with self._model_file() as f:
            if "basis" in f:
                M = b.matmul(M, b.asarray(f["basis"][()].astype(dt)))
            for g in groups:
                coef = f[f"groups/{g}/coef"]
                t = coef.shape[1]
                P = np.empty((len(X), t), dtype=dt)
                for a, z in _chunks(t, int(self.chunk_size)):
                    P[:, a:z] = b.to_numpy(b.matmul(M, b.asarray(np.asarray(coef[:, a:z]).astype(dt))))
                P += self.y_mean_[g].astype(dt)
                if rescale:
                    P = rescale_to_train_statistics(P, self.y_mean_[g], self.y_std_[g])
                out[g] = P.reshape((len(X),) + self.target_shapes_[g])
        return out


STANDARDIZE_BLOCK = 2048  # voxels standardised at a time in float64: bounded memory, exact centring


def _standardize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float32 standardised X, float64 means, float64 scales (ddof 1)) of ``X`` (n, p), computed in float64 a block
    of voxels at a time, so that finite inputs never overflow (float32 betas near 3e38 would in float32)."""
    n, p = X.shape
    Xs = np.empty((n, p), np.float32)
    X_mean, X_scale = np.empty(p), np.empty(p)
    for a in range(0, p, STANDARDIZE_BLOCK):
        x = X[:, a : a + STANDARDIZE_BLOCK].astype(np.float64)
        X_mean[a : a + x.shape[1]] = m = x.mean(axis=0)
        x -= m
        sd = np.sqrt(np.einsum("ij,ij->j", x, x) / max(n - 1, 1))
        sd[sd == 0] = 1.0  # a constant voxel carries no information; it is kept, centred to 0
        X_scale[a : a + x.shape[1]] = sd
        Xs[:, a : a + x.shape[1]] = x / sd
    return Xs, X_mean, X_scale


# ---------------------------------------------------------------------------------------------- the store
def _write_header(f, config) -> None:
    f.attrs["format"] = FORMAT
    f.attrs["config"] = json.dumps(config)
    f.attrs["versions"] = json.dumps(versions())
    f.attrs["complete"] = False
    f.attrs["eigh_dtype"] = config["eigh_dtype"]


def _eigen(f, b, K):
    """Eigendecomposition of the kernel, kept in the model: it is the basis of the stored coefficients, and a
    resumed fit reads it back instead of recomputing it."""
    if f.attrs.get("basis_complete", False):
        return b.asarray(np.asarray(f["kernel_eigenvalues"][()])), b.asarray(np.asarray(f["basis"][()]))
    s, Q = solve.eigen_kernel(b, K, f.attrs["eigh_dtype"])
    f.require_dataset("kernel_eigenvalues", shape=s.shape, dtype=np.float32)[...] = b.to_numpy(s)
    f.require_dataset("basis", shape=Q.shape, dtype=np.float32)[...] = b.to_numpy(Q)
    f.flush()
    f.attrs["basis_complete"] = True
    return s, Q


def _layout_group(f, g, Y, n, n_alphas, choose: bool, two_pass: bool, chunk_size) -> None:
    """The datasets of one group, created on first use (a resumed fit finds them)."""
    t = int(np.prod(Y.shape[1:]))
    grp = f.require_group(f"groups/{g}")
    grp.attrs["target_shape"] = [int(d) for d in Y.shape[1:]]
    grp.require_dataset("coef", shape=(n, t), dtype=np.float32, chunks=(n, min(t, STORAGE_COLUMNS)))
    for name in ("alphas", "y_mean", "y_std"):
        grp.require_dataset(name, shape=(t,), dtype=np.float64)
    if choose:
        grp.require_dataset("cv_scores", shape=(n_alphas, t), dtype=np.float32)
    n_chunks = len(_chunks(t, int(chunk_size)))
    for stage in ("score", "solve") if two_pass else ("solve",):
        grp.require_dataset(f"done_{stage}", shape=(n_chunks,), dtype=bool, fillvalue=False)


def _group_alpha(grp, alphas) -> float:
    """The group's one alpha: the lowest GCV error summed over all its targets (every chunk scored)."""
    return float(alphas[int(np.argmin(np.asarray(grp["cv_scores"][()], dtype=np.float64).sum(1)))])


def _store(f, grp, c: _Chunk, out: dict) -> None:
    """Write one computed chunk, flush, then mark it done: the resume contract."""
    a, z = c.start, c.stop
    if "mean" in out:
        grp["y_mean"][a:z], grp["y_std"][a:z] = out["mean"], out["std"]
    if out.get("scores") is not None:
        grp["cv_scores"][:, a:z] = out["scores"]
    grp["coef"][:, a:z] = out["coef"]
    if out.get("alphas") is not None:
        grp["alphas"][a:z] = out["alphas"]
    f.flush()  # the chunk is on disk before it is marked done
    grp[f"done_{c.stage}"][c.k] = True
    f.flush()


def _compute(c: _Chunk, Yk: np.ndarray, solver, alphas, fixed, group_alpha, two_pass) -> dict:
    """One chunk, no file access: statistics, GCV scores and coefficients of targets (n, chunk) float32.

    In the solve pass of a two-pass fit, ``Yk`` is already the projected ``Q^T Yc`` of the score pass.
    """
    if c.stage == "solve" and two_pass:
        return {"coef": solver.coef(Yk, np.full(Yk.shape[1], group_alpha)), "alphas": np.full(Yk.shape[1],
                                                                                               group_alpha)}
    if not np.isfinite(Yk).all():
        bad = c.start + np.flatnonzero(~np.isfinite(Yk).all(axis=0))
        raise InputError(f"target group {c.group!r} has NaN or infinite values in flattened targets "
                         f"{bad[:5].tolist()}{' ...' if len(bad) > 5 else ''}")
    mean = Yk.mean(axis=0, dtype=np.float64)
    Yk -= mean.astype(np.float32)  # centred in place: no second n x chunk array
    std = np.sqrt(np.einsum("ij,ij->j", Yk, Yk, dtype=np.float64) / len(Yk))
    out = {"mean": mean, "std": std}
    if fixed is not None:
        out.update(coef=solver.solve(Yk, fixed[c.group]), alphas=np.full(c.stop - c.start, fixed[c.group]))
    elif c.stage == "score":  # keep the projection for the solve pass
        Z = solver.project(Yk)
        out.update(scores=solver.scores(Z), coef=solver.b.to_numpy(Z))
    else:
        out.update(zip(("coef", "alphas", "scores"), solver.solve_chosen(Yk, alphas), strict=True))
    return out


# -------------------------------------------------------------------------------------------- the solvers
class _EigenSolver:
    """Choosing alphas and solving in the kernel's eigenbasis, one chunk of centred targets at a time."""

    def __init__(self, b, s, Q, alphas_b):
        self.b, self.s, self.Q, self.alphas_b = b, s, Q, alphas_b
        self.dof_weight = solve.intercept_dof_weight(b, Q)

    def project(self, Yc):
        """``Z = Q^T Yc`` (n, c) on the backend."""
        return self.b.matmul(self.b.transpose(self.Q), self.b.asarray(Yc))

    def scores(self, Z) -> np.ndarray:
        """GCV scores (A, c) of projected targets ``Z``."""
        b = self.b
        return b.to_numpy(solve.gcv_scores(b, self.s, b.asarray(Z), self.alphas_b, self.dof_weight))

    def coef(self, Z, alpha_per_column) -> np.ndarray:
        """Eigenbasis coefficients (n, c) of projected targets ``Z`` with one alpha per column."""
        b = self.b
        return b.to_numpy(solve.eigen_coef(b, self.s, b.asarray(Z), b.asarray(alpha_per_column, dtype=b.float32)))

    def solve_chosen(self, Yc, alphas):
        """Eigenbasis coefficients (n, c), the alpha chosen per column (c,) and the GCV scores (A, c)."""
        Z = self.project(Yc)
        scores = self.scores(Z)
        chosen = alphas[np.argmin(scores, axis=0)]
        return self.coef(Z, chosen), chosen, scores


class _CholeskySolver:
    """Fixed alphas: one Cholesky factorisation per distinct alpha, reused by every chunk."""

    def __init__(self, b, K):
        self.b, self.K, self.factors = b, K, {}

    def solve(self, Yc, alpha: float) -> np.ndarray:
        if alpha not in self.factors:
            self.factors[alpha] = solve.cholesky_factor(self.b, self.K, alpha)
        return self.b.to_numpy(solve.cholesky_solve(self.b, self.factors[alpha], self.b.asarray(Yc)))


class _HimalayaSolver:
    """himalaya's ``KernelRidgeCV`` on the precomputed kernel, one chunk of centred targets at a time."""

    def __init__(self, b, K, alphas, cv: int, params: dict | None):
        self.b, self.K, self.alphas, self.cv, self.params = b, K, alphas, cv, dict(params or {})

    def solve_chosen(self, Yc, alphas):
        """Dual coefficients (n, c), the alpha chosen per column (c,) and the CV mean squared errors (A, c)."""
        from himalaya.kernel_ridge import KernelRidgeCV

        model = KernelRidgeCV(alphas=self.alphas, kernel="precomputed", cv=self.cv, fit_intercept=False,
                              solver_params={"local_alpha": True, **self.params}).fit(self.K, self.b.asarray(Yc))
        b = self.b
        best = b.to_numpy(model.best_alphas_).astype(np.float64)  # in the backend's float32: snapped to the grid
        chosen = alphas[np.abs(np.log(alphas)[:, None] - np.log(best)[None]).argmin(axis=0)]
        return (b.to_numpy(model.dual_coef_).astype(np.float32), chosen,
                -b.to_numpy(model.cv_scores_).astype(np.float32))  # its score is the negative MSE


def _target_signature(h, Y) -> None:
    """Feed ``h`` with what identifies the targets ``Y``: every byte of an in-memory array; for an h5py dataset or
    an array-like with a ``signature()`` (the feature cache's rows), its file's size and modification time and the
    rows it reads: a re-extracted feature file changes them, and its gigabytes need not be read twice."""
    if hasattr(Y, "signature"):
        h.update(Y.signature())
    elif isinstance(Y, h5py.Dataset):
        h.update(json.dumps(file_signature(Y.file.filename), sort_keys=True).encode() + Y.name.encode())
    elif isinstance(Y, np.ndarray):
        h.update(memoryview(np.ascontiguousarray(Y)).cast("B"))
    else:  # another array-like: every row, a block at a time
        for a in range(0, Y.shape[0], 256):
            h.update(np.ascontiguousarray(np.asarray(Y[a : a + 256], dtype=np.float32)).tobytes())


def _fingerprint(Xs: np.ndarray, targets: Mapping, config: dict) -> str:
    """A hash of the parameters, the voxels and the targets: a partial fit resumes only on the same inputs."""
    h = hashlib.sha1(json.dumps(config, sort_keys=True).encode())
    h.update(memoryview(np.ascontiguousarray(Xs)).cast("B"))  # sha1 of a memoryview: ~1.6 GB/s, no copy
    for g, Y in targets.items():
        h.update(g.encode())
        _target_signature(h, Y)
    return h.hexdigest()
