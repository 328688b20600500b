"""``OneStageRidge``: voxels -> every target group in one kernel solve, alpha per target, chunked and resumable.

How a fit runs (n images, p voxels, t targets over all groups), every step on the backend's device:

1. ``X`` is standardised with training statistics (mean, and std with ddof=1 as Brain-Diffuser does), in float64.
2. The linear kernel ``K = Xs Xs^T`` (n, n) is computed once for all groups.
3. Choosing alphas: one eigendecomposition ``K = Q diag(s) Q^T`` serves every target; GCV in the eigenbasis
   scores all alphas for a chunk of targets with one small matrix product (``runner.EigenGCV``). With fixed
   alphas (the Brain-Diffuser baseline) one Cholesky factorisation per distinct alpha replaces it.
4. Targets are read ``chunk_size`` columns at a time (numpy arrays, memory maps or h5py datasets alike); each
   chunk's coefficients (n, chunk) go to the model's store. With chosen alphas they are kept in the eigenbasis,
   ``B = diag(1/(s+alpha)) Q^T Yc``, so the dual coefficients ``C = Q B`` are never formed. The loop reads chunk
   k+1 and writes chunk k-1 while chunk k computes (``loop``).
5. Predictions are ``(Xs_test Xs^T Q) B`` (or ``Xs_test Xs^T C``): the test kernel is computed once, then one
   product per chunk.

Two layers. The maths is ``core`` (plain functions of arrays, shared with ``RidgeGCV``): ``fit`` calls its
standardisation, kernel and eigendecomposition itself, and each chunk's GCV through a solver. Around it, the
out-of-core runner: ``runner`` (the solvers, registered by name, the chunk loop and the two passes of an alpha per
group), ``device`` (the one host/device boundary, with every crossing counted), ``loop`` (the plan of chunks),
``fit_chunks`` (the fingerprint that lets a fit resume), ``stores`` (the model file, or plain arrays in memory) and
``model_file`` (its format, generation and checks, and reading a fitted model back).
``validation`` checks the parameters and inputs of both estimators.

With ``path`` set, the model is written to ``<path>.part`` as it goes; a fit interrupted for any reason resumes
from the last finished chunk when called again with the same inputs and parameters, and ``<path>`` appears only
once the fit is complete. Without ``path`` the model is plain arrays (``MemoryStore``) and pickles;
``save(path)`` writes either kind to one file.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path

import h5py
import numpy as np

from ..errors import FitInUseError, InputError, UnknownGroupError
from ..runtime.io import atomic_path, resumable_h5
from ..runtime.overlap import run as run_overlapped
from . import core, fit_chunks, model_file, runner, validation
from .device import Device
from .stores import MemoryStore
from .validation import params_repr

DEFAULT_CHUNK_SIZE = 4096  # targets per chunk: ~145 MB per n x chunk float32 block at NSD's n = 8859
FORMAT = model_file.FORMAT
NOT_SAVED = ("path",)  # where the model is, not what it is
SINGLE_GROUP = "y"  # the group name of targets given as one array


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


class OneStageRidge:
    """Kernel ridge from voxels to several target groups, alpha chosen per target (or per group) by GCV.

    Targets are a mapping {group: array (n, ...)} or one array (n, ...), the group ``"y"``, for which ``predict``
    returns an array of the same trailing shape instead of a mapping. The maths is ``ridge.core``; this class runs it
    out of core (chunks of targets, an HDF5 model that resumes, host/device crossings counted).

    A scikit-learn regressor when fitted on one array: ``clone``, ``cross_val_score`` and ``GridSearchCV`` take it
    (with ``path=None``, or one ``path`` per fit: two fits cannot write one file at once). X and the targets may
    be numpy arrays (memory maps too), pandas objects, lists or torch tensors (copied to the host); sparse
    matrices are refused. The primal weights of a group, (t, p) in the units of X, are ``coef(group)``.

    Parameters
    ----------
    alphas : array-like of shape (A,), float, dict or None, default=None
        Candidate regularisations, positive; None: 20 values log-spaced over 1e0..1e8 (``DEFAULT_ALPHAS``). With
        ``solver="fixed"``: the alpha itself, one number or {group: number}.
    alpha_per : {"target", "group"}, default="target"
        One alpha per target column, or one per group (the lowest GCV error summed over the group's targets).
    device : {"cpu", "cuda", "numpy", "torch", "torch_cuda"}, default="cpu"
        Where the maths runs: "cpu" is himalaya's numpy backend, "cuda" its torch_cuda; himalaya's backend names
        are accepted as they are ("torch" is torch on the CPU).
    chunk_size : int, default=4096
        Targets per chunk: bounds the peak memory of the target loop.
    eigh_dtype : {"float32", "float64"}, default="float32"
        Precision of the kernel's eigendecomposition.
    path : str, Path or None, default=None
        HDF5 file for the model. The fit writes ``<path>.part`` chunk by chunk, resumes from it when interrupted,
        and renames it to ``path`` when complete. None keeps the model in memory.
    solver : {"gcv", "fixed", "himalaya"}, default="gcv"
        "gcv": alphas chosen by generalised cross-validation in the kernel's eigenbasis. "fixed": every target of a
        group uses the alpha ``alphas`` gives it, solved by Cholesky (the Brain-Diffuser baseline). "himalaya":
        each chunk is fitted by ``himalaya.kernel_ridge.KernelRidgeCV`` on the same kernel, K-fold
        (``alpha_per="target"`` only); its dual coefficients go into the same model file.
    solver_params : dict or None, default=None
        The "himalaya" solver's settings: ``cv`` (folds, in row order; default 5) and himalaya's own
        ``solver_params`` (``n_targets_batch``, ``n_alphas_batch``, ...).
    fixed_alpha : float, dict or "deprecated", default="deprecated"
        Deprecated since 0.2.0, removed in 0.3.0: ``solver="fixed", alphas=fixed_alpha`` (``fit`` warns).
    cv : int or "deprecated", default="deprecated"
        Deprecated since 0.2.0, removed in 0.3.0: ``solver_params={"cv": cv}`` (``fit`` warns).
    backend : str or "deprecated", default="deprecated"
        Deprecated since 0.2.0, removed in 0.3.0: ``device=backend`` (``fit`` warns).

    Attributes
    ----------
    groups_ : list of str
        Group names, in fitting order.
    n_features_in_ : int
        Number of voxels seen in ``fit``.
    feature_names_in_ : ndarray of str, shape (p,)
        X's column names, when X had named columns (a pandas DataFrame); ``predict`` then refuses other names or
        another order.
    alphas_ : dict of {str: ndarray of shape (t,), float64}
        The chosen alpha of each target.
    alpha_grid_ : ndarray of shape (A,), float64
        The candidate alphas.
    cv_scores_ : dict of {str: ndarray of shape (A, t), float32}
        GCV mean squared error of each alpha for each target, in target units squared (lower is better; with the
        "himalaya" solver its cross-validated error); empty with fixed alphas.
    y_mean_, y_std_ : dict of {str: ndarray of shape (t,), float64}
        Training mean and standard deviation (ddof=0) of each target.
    X_mean_, X_scale_ : ndarray of shape (p,), float64
        The voxels' standardisation (a constant voxel gets scale 1 and contributes nothing).
    target_shapes_ : dict of {str: tuple}
        Each group's trailing shape, restored by ``predict``.
    kernel_eigenvalues_ : ndarray of shape (n,), float32
        Spectrum of the training kernel (absent with fixed alphas).
    fit_warnings_ : list of str
        The fit's ``AlphaGridWarning`` messages (a grid too narrow for many targets, or alphas below the
        eigendecomposition's precision), also issued as warnings.
    fit_id_ : str
        The generation of the model file: every later read of the file checks it.
    seconds_ : dict of {str: float}
        Wall seconds of each stage of the last fit.
    runs_ : list of dict
        One per call that worked on this model (more than one when a fit was interrupted and resumed).
    crossings_ : dict
        {(direction, name): (calls, bytes)} of the last fit or predict (``device.Device``).
    model_path_ : Path or None
        The HDF5 file holding the coefficients (None when in memory).
    """

    def __init__(self, alphas=None, alpha_per: str = "target", device: str = "cpu",
                 chunk_size: int = DEFAULT_CHUNK_SIZE, eigh_dtype: str = "float32", path=None, solver: str = "gcv",
                 solver_params: dict | None = None, fixed_alpha="deprecated", cv="deprecated", backend="deprecated"):
        self.alphas = alphas
        self.alpha_per = alpha_per
        self.device = device
        self.chunk_size = chunk_size
        self.eigh_dtype = eigh_dtype
        self.path = path
        self.solver = solver
        self.solver_params = solver_params
        self.fixed_alpha = fixed_alpha  # the names before 0.2.0: stored as given, translated (and warned) by fit
        self.cv = cv
        self.backend = backend

    def get_params(self, deep: bool = True) -> dict:
        """Every parameter of ``__init__`` with its value (scikit-learn's convention)."""
        return {name: getattr(self, name) for name in inspect.signature(type(self).__init__).parameters
                if name != "self"}

    def set_params(self, **params) -> OneStageRidge:
        """Set parameters by name (scikit-learn's convention); checked when ``fit`` runs."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise InputError(f"OneStageRidge has no parameter {name!r}; it has {sorted(valid)}")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        """scikit-learn's tags: a regressor of one or several outputs, needing y (``clone``, ``GridSearchCV``,
        ``cross_val_score`` read them)."""
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags  # scikit-learn: heavy, asked rarely

        return Tags(estimator_type="regressor", target_tags=TargetTags(required=True, multi_output=True,
                                                                       single_output=True),
                    regressor_tags=RegressorTags(), input_tags=InputTags(allow_nan=False))

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "groups_")

    @property
    def cv_values_(self) -> dict:
        """Deprecated since 0.2.0 (removed in 0.3.0): ``cv_scores_``."""
        validation.deprecated("OneStageRidge.cv_values_", "cv_scores_")
        return self.cv_scores_

    def __repr__(self) -> str:
        return params_repr(self)

    # ----------------------------------------------------------------------------------------------- fit
    def fit(self, X, targets, progress: bool = False, overlap: bool = True) -> OneStageRidge:
        """Fit ``X`` (n, p) voxels to ``targets`` {group: (n, ...)} or one array (n, ...); returns self.

        ``progress`` shows a bar over the chunks; ``overlap`` reads the next chunk and writes the previous one
        while a chunk computes (two threads), False runs them one after the other. Neither changes the model.

        Target arrays may be numpy arrays, memory maps, h5py datasets or the feature cache's lazy rows; they are
        read one chunk at a time. Neither ``X`` nor the targets are ever written. A target that is constant over
        the training images is predicted as its mean. The fitted attributes are set only when the fit succeeds: a
        fit that raises leaves a previous fit's attributes as they were. himalaya's process-wide backend is left
        as it was.
        """
        if targets is None:
            raise InputError("OneStageRidge requires y to be passed, but the target y is None: give the targets, one "
                             "array (n_samples, ...) or {group: array}")
        params = validation.current_form(self.get_params(), "OneStageRidge")  # warns for the names before 0.2.0
        alphas = validation.check_params(params)
        alpha_per, solver_name, solver_params = params["alpha_per"], params["solver"], params["solver_params"]
        names = validation.feature_names(X)
        single = not isinstance(targets, Mapping)
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        X = validation.check_X(X, min_samples=validation.MIN_SAMPLES)
        n, p = X.shape
        if single:
            targets = validation.as_dense(targets, "y")
        if single and np.ndim(targets) == 1:  # one target: fitted as (n, 1), predicted as (n,)
            single, targets = "1d", np.asarray(targets)[:, None]
        targets = validation.check_targets({SINGLE_GROUP: targets} if single else targets, n)
        fixed = validation.fixed_alphas(params["alphas"], list(targets)) if solver_name == "fixed" else None
        dev = Device(params["device"])
        self._names = names
        config = self._config(alphas, params, targets, fixed, (n, p), single)
        hashing = None
        if self.path is not None:  # hashed on a thread (hashlib releases the GIL) while the kernel is made
            pool = ThreadPoolExecutor(1, thread_name_prefix="fingerprint")
            hashing = pool.submit(fit_chunks.fingerprint, X, targets, config)
            pool.shutdown(wait=False)
        Xs, mean, scale = core.standardize(dev.b, dev.to_device(X, "voxels", X.dtype))
        seconds["standardize"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        K = core.linear_kernel(dev.b, Xs)
        seconds["kernel"] = time.perf_counter() - t0
        if hashing is None:  # nothing to resume: no fingerprint
            store = nullcontext((MemoryStore(), False))
        else:
            t0 = time.perf_counter()
            plan = hashing.result()
            seconds["fingerprint"] = time.perf_counter() - t0  # the part the kernel did not hide
            store = fit_chunks.opened(resumable_h5(self.path, plan,
                                                   mismatch="is a partial fit of other inputs or parameters"))
        with ExitStack() as stack:
            try:
                st, resumed = stack.enter_context(store)
            except BlockingIOError as exc:  # HDF5's file lock: another process writes this model now
                raise FitInUseError(
                    f"path={str(self.path)!r}: another fit is writing this model file now (HDF5 reports it locked), "
                    "e.g. a parallel cross-validation fold or GridSearchCV candidate of a cloned estimator: give "
                    "each fit its own path, or path=None to keep the model in memory") from exc
            if not resumed:
                model_file.write_header(st, config)
                st.put("Xs_train", dev.to_host(Xs, "standardised voxels"))
                st.put("X_mean", dev.to_host(mean, "voxel means"))
                st.put("X_scale", dev.to_host(scale, "voxel scales"))
                st.put("alphas_grid", alphas)
            del Xs
            t0 = time.perf_counter()
            run = runner.ChunkRun(alphas, fixed, alpha_per, int(self.chunk_size), solver_name,
                                  solver_params, resumed, progress, overlap, self.path,
                                  {g: validation.compute_dtype(Y.dtype) for g, Y in targets.items()})
            solver = runner.SOLVERS[solver_name].build(dev, st, K, run)
            del K  # the solver keeps it if it needs it
            if solver.setup_stage:
                seconds[solver.setup_stage] = time.perf_counter() - t0
            seconds.update(runner.run_chunks(st, dev, targets, solver, run))
            st.attrs["complete"] = True
            runs = json.loads(st.attrs["runs"])
        # success: only now does the estimator take the new model
        self._set_fitted(st if self.path is None else None, Path(self.path) if self.path is not None else None)
        self._single = single
        self.seconds_ = seconds
        self.runs_ = runs
        self.crossings_ = dev.crossings()
        self.fit_warnings_ = self._warnings(alphas, fixed)
        return self

    def _warnings(self, grid, fixed) -> list[str]:
        """The fit's ``AlphaGridWarning`` messages (each also issued as a warning)."""
        if fixed is not None:
            return []
        found = [validation.warn_grid_edges(self.alphas_, grid, self.y_std_, stacklevel=4)]  # the caller of fit
        if hasattr(self, "kernel_eigenvalues_") and self.kernel_eigenvalues_.size:
            found.append(validation.warn_precision(self.alphas_, float(self.kernel_eigenvalues_.max()),
                                                   self.eigh_dtype, stacklevel=4))
        return [w for w in found if w]

    def _config(self, alphas, current, targets, fixed, shape, single) -> dict:
        """The model file's record of a fit; ``current`` is ``get_params()`` in today's names (``current_form``)."""
        n, p = shape
        params = {k: v for k, v in current.items() if k not in NOT_SAVED}
        params["alphas"] = alphas.tolist()
        solver = current["solver"]
        return {
            "alphas": alphas.tolist(), "alpha_per": current["alpha_per"], "fixed_alpha": fixed,
            "chunk_size": int(self.chunk_size), "eigh_dtype": self.eigh_dtype, "device": current["device"],
            "solver": solver, "solver_params": current["solver_params"] if solver == "himalaya" else None,
            "n_images": n, "n_voxels": p, "params": params, "single": single, "feature_names": self._names,
            "groups": {g: [int(d) for d in Y.shape[1:]] for g, Y in targets.items()},
        }

    # ---------------------------------------------------------------------------------- fitted state, I/O
    def _set_fitted(self, memory: MemoryStore | None, path: Path | None) -> None:
        """Take a finished model: the in-memory store, or the file at ``path``; read its small arrays."""
        with (nullcontext(memory) if memory is not None else model_file.read_store(path)) as st:
            for name, value in model_file.fitted_attributes(st).items():
                if value is not None:
                    setattr(self, name, value)
                elif hasattr(self, name):  # absent for this model (a refit with fixed alphas, names or none)
                    delattr(self, name)
        self.model_path_ = path
        self.memory_model_ = memory

    def _check_is_fitted(self) -> None:
        """The one question "is it fitted?": scikit-learn's ``NotFittedError`` (ours) saying how to fit it."""
        if not hasattr(self, "groups_"):
            from ..errors import NotFittedError  # made on first use: it imports scikit-learn

            raise NotFittedError("this OneStageRidge instance is not fitted yet: call fit(X, targets) before using "
                                 "this estimator")

    @contextmanager
    def _model_store(self):
        """The fitted model's store: the in-memory arrays, or the model file opened read-only."""
        self._check_is_fitted()
        if self.memory_model_ is not None:
            yield self.memory_model_
        else:
            with model_file.read_store(self.model_path_) as st:
                model_file.check_same_fit(st, self.fit_id_, self.model_path_)
                yield st

    def save(self, path) -> Path:
        """Write the fitted model to one HDF5 file at ``path`` (atomically), readable by ``OneStageRidge.load``."""
        self._check_is_fitted()
        path = Path(path)
        if self.model_path_ is not None and self.model_path_.resolve() == path.resolve():
            return path
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as out:
            if self.memory_model_ is not None:
                self.memory_model_.write_to(out)
            else:
                with h5py.File(self.model_path_, "r") as f:
                    model_file.check_same_fit(f, self.fit_id_, self.model_path_)
                    for key in f:
                        f.copy(key, out)
                    for k, v in f.attrs.items():
                        out.attrs[k] = v
        return path

    @classmethod
    def load(cls, path) -> OneStageRidge:
        """A fitted model from its HDF5 file, with every parameter it was fitted with (dual coefficients stay on
        disk and are read chunk by chunk). The loaded model is file-backed: it holds the path, and pickles as such.
        """
        path = Path(path)
        config = model_file.open_checked(path)
        model = cls(**model_file.current_params(config["params"], inspect.signature(cls.__init__).parameters),
                    path=path)
        model._set_fitted(None, path)
        model._single = config.get("single", False)
        return model

    def dual_coef(self, group: str) -> np.ndarray:
        """Dual coefficients (n_train, t) of one group, read whole: for inspection and tests (on the host)."""
        self._require_group(group)
        with self._model_store() as st:
            coef = np.array(st.get(f"groups/{group}/coef"))
            return np.array(st.get("basis")) @ coef if st.has("basis") else coef

    def _require_group(self, group):
        self._check_is_fitted()
        if group not in self.groups_:
            raise UnknownGroupError(f"target group {group!r} is not in this model; it has the groups "
                                    f"{', '.join(map(repr, self.groups_))}")

    def _default_group(self, group):
        """``group``, or the one group of a model fitted on one array (or on a mapping of one group)."""
        if group is None:
            self._check_is_fitted()
            if len(self.groups_) != 1:
                raise InputError(f"group: this model has the groups {', '.join(map(repr, self.groups_))}; name one")
            group = self.groups_[0]
        self._require_group(group)
        return group

    def coef(self, group=None) -> np.ndarray:
        """The primal weights of one group, as scikit-learn's ``coef_``: (t, p) float64 in the units of the X given
        to ``fit`` (the standardisation undone), t the group's flattened targets (C order); (p,) for a model fitted
        on a 1-D y. ``X @ coef(g).T + intercept(g)`` is ``predict(X)[g]`` (flattened) to float32 precision.

        Read from the model chunk by chunk, but returned whole: t x p x 8 bytes (for NSD's 16 x 768 tokens and
        15,724 voxels, 1.5 GB). ``group`` may be omitted when the model has one group.
        """
        group = self._default_group(group)
        out = np.empty((int(np.prod(self.target_shapes_[group])), self.n_features_in_))
        for a, Xt, C in self._dual_chunks(group):
            out[a : a + C.shape[1]] = (Xt.T @ C).T / self.X_scale_  # standardised weights, per unit of each voxel
        return out[0] if getattr(self, "_single", False) == "1d" else out

    def intercept(self, group=None):
        """The intercepts that go with ``coef(group)``: (t,) float64, or a float for a model fitted on a 1-D y (the
        targets' training means less the weighted voxel means). Needs no (t, p) array."""
        group = self._default_group(group)
        out = np.array(self.y_mean_[group], dtype=np.float64)
        for a, Xt, C in self._dual_chunks(group):
            out[a : a + C.shape[1]] -= C.T @ (Xt @ (self.X_mean_ / self.X_scale_))  # coef(group) @ X_mean_
        return float(out[0]) if getattr(self, "_single", False) == "1d" else out

    def _dual_chunks(self, group):
        """(first target, standardised training voxels (n, p), dual coefficients (n, chunk)) of ``group``, float64,
        one chunk of targets at a time."""
        step = int(self.chunk_size)
        with self._model_store() as st:
            if st.has("Xs_train"):
                Xt = np.asarray(st.get("Xs_train"), dtype=np.float64)
            else:  # a model file of format /2: its raw float32 training voxels
                Xt = (np.asarray(st.get("X_train"), dtype=np.float64) - self.X_mean_) / self.X_scale_
            basis = np.asarray(st.get("basis"), dtype=np.float64) if st.has("basis") else None
            for a in range(0, int(np.prod(self.target_shapes_[group])), step):
                C = np.asarray(st.columns(f"groups/{group}/coef", a, a + step), dtype=np.float64)
                yield a, Xt, (C if basis is None else basis @ C)  # eigenbasis coefficients B: the dual ones are Q B

    # ------------------------------------------------------------------------------------------- predict
    def predict(self, X, groups=None, rescale: bool = False, dtype="float32"):
        """Predictions {group: (n_test, ...)} for ``X`` (n_test, p), trailing shapes restored; one array when the
        model was fitted on one array.

        ``rescale=True`` applies Brain-Diffuser's rescaling by the statistics of these predictions (see
        ``rescale_to_train_statistics``): it uses the test set as a whole, and is off by default. ``dtype`` is
        that of the products with the stored (float32) model and of the result: "float64" makes each row's
        prediction independent of the other rows to float64 rounding (``RidgeGCV`` uses it). Everything runs on
        the backend's device; each group's predictions cross to the host once.
        """
        self._check_is_fitted()
        validation.check_feature_names(X, getattr(self, "feature_names_in_", None))
        X = validation.check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise InputError(f"X has {X.shape[1]} features, but OneStageRidge is expecting {self.n_features_in_} "
                             "features as input (the voxels it was fitted on)")
        groups = list(self.groups_ if groups is None else groups)
        for g in groups:
            self._require_group(g)
        dev, dt = Device(validation.device_of(self)), str(np.dtype(dtype))
        b = dev.b
        out = {}
        with self._model_store() as st:
            mean = dev.to_device(self.X_mean_, "voxel means", np.float64)
            scale = dev.to_device(self.X_scale_, "voxel scales", np.float64)
            Xs = core.apply_standardization(b, dev.to_device(X, "test voxels", X.dtype), mean, scale)
            if st.has("Xs_train"):
                Xt = dev.to_device(st.get("Xs_train"), "standardised training voxels")
            else:  # a model file of format /2: its raw float32 training voxels
                Xt = core.apply_standardization(b, dev.to_device(st.get("X_train"), "training voxels"), mean, scale)
            basis = dev.to_device(st.get("basis"), "basis", dt) if st.has("basis") else None
            M = core.cross_kernel(b, core.cast(b, Xs, dt), core.cast(b, Xt, dt), basis)
            del Xs, Xt
            for g in groups:
                P = self._predict_group(st, dev, M, g, dt)
                if rescale:
                    P = rescale_to_train_statistics(P, self.y_mean_[g], self.y_std_[g])
                out[g] = P.reshape((len(X),) + self.target_shapes_[g])
        self.crossings_ = dev.crossings()
        single = getattr(self, "_single", False)
        if single and groups == [SINGLE_GROUP]:
            return out[SINGLE_GROUP][:, 0] if single == "1d" else out[SINGLE_GROUP]
        return out

    def _predict_group(self, st, dev: Device, M, g: str, dt: str) -> np.ndarray:
        """Group ``g``'s predictions (n_test, t) on the host: ``M`` (n_test, n) times each chunk of its stored
        coefficients, plus the means. The next chunk is read from the model file (a reader thread) while this one's
        product runs: at 88,000 targets that hides 3 GB of reading behind the GEMMs."""
        t, width = int(np.prod(self.target_shapes_[g])), int(self.chunk_size)
        y_mean = dev.to_device(self.y_mean_[g], "target means", dt)
        parts = []
        run_overlapped(list(range(0, t, width)),
                       lambda a: dev.to_device(st.columns(f"groups/{g}/coef", a, a + width), "coef chunk", dt),
                       lambda a, coef: core.predict(dev.b, M, coef, y_mean[a : a + width]),
                       lambda a, part: parts.append(part))
        return dev.to_host(dev.b.concatenate(parts, 1) if len(parts) > 1 else parts[0], "predictions")

    def score(self, X, y, sample_weight=None) -> float:
        """The coefficient of determination R^2 of the predictions for ``X`` against ``y`` (the targets as ``fit``
        took them: one array, or {group: array}), averaged over every target column of every group (scikit-learn's
        ``r2_score`` with ``multioutput="uniform_average"``); ``sample_weight`` (n,) as scikit-learn's."""
        # heavy (sklearn): imported where used
        from sklearn.metrics import r2_score

        pred = self.predict(X, dtype="float64")
        if not isinstance(pred, Mapping):
            pred, y = {SINGLE_GROUP: pred}, {SINGLE_GROUP: np.asarray(validation.as_dense(y, "y")).reshape(pred.shape)}
        if not isinstance(y, Mapping) or set(y) != set(pred):
            raise InputError(f"score needs y for the groups {sorted(pred)}; got "
                             f"{sorted(y) if isinstance(y, Mapping) else type(y).__name__}")
        n = len(next(iter(pred.values())))
        true = np.concatenate([np.asarray(validation.as_dense(y[g], g), np.float64).reshape(n, -1) for g in pred], 1)
        return float(r2_score(true, np.concatenate([pred[g].reshape(n, -1) for g in pred], 1),
                              sample_weight=sample_weight))
