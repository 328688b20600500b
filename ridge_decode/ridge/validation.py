"""What both ridge estimators check, in one place: their parameters (declared once, as scikit-learn's
``_parameter_constraints``), their inputs, and the two warnings about the alpha grid.

Every check raises an ``InputError`` (a ``ValueError``), or an ``InputTypeError`` or ``ParameterError`` (also a
``TypeError``), naming the parameter or input, what was expected and what was found. ``OneStageRidge`` and
``RidgeGCV`` call ``check_params`` with their own parameters, so a parameter they share is checked the same way in
both.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import InputError, InputTypeError, ParameterError, python_fix
from . import core
from .backend import DEVICES
from .device import torch_to_host
from .runner import SOLVERS

DEFAULT_ALPHAS = np.logspace(0, 8, 20)
ALPHA_PER = ("target", "group")
MIN_SAMPLES = 2  # a centred target of one sample is all zeros: nothing to fit, and GCV divides by 0
FLOAT32_MAX = float(np.finfo(np.float32).max)
# A chosen alpha on the grid's first or last value for more than this fraction of the (non-constant) targets
# of a group means the best alpha may lie outside the grid.
GRID_EDGE_FRACTION = 0.1


class AlphaGridWarning(UserWarning):
    """The alpha grid is too narrow (many targets chose an end of it), or holds alphas below the precision of the
    kernel's eigendecomposition.

    The grid is ``alphas``, an array of shape (A,) of positive, unitless penalties; "many" is more than 10% of a
    group's (non-constant) targets. Widen the grid on the side named (e.g. ``alphas=np.logspace(-2, 10, 25)``).
    """


# ------------------------------------------------------------------------------------------- deprecations
# Names renamed in 0.2.0 (issue #39) keep working until REMOVED_IN, with a FutureWarning naming the new form.
DEPRECATED_SINCE, REMOVED_IN = "0.2.0", "0.3.0"


def deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn (``FutureWarning``) that ``old`` is deprecated in favour of ``new``."""
    warnings.warn(f"{old} is deprecated since {DEPRECATED_SINCE} and will be removed in {REMOVED_IN}: use {new}",
                  FutureWarning, stacklevel=stacklevel)


DEPRECATED = "deprecated"  # the default of a parameter kept only for its old spelling, as scikit-learn does


def current_form(params: dict, estimator: str) -> dict:
    """``params`` (an estimator's ``get_params()``) in today's names, with a ``FutureWarning`` for each name used
    before 0.2.0: ``alpha_per="all"`` is ``"group"``; ``fixed_alpha=a`` is ``solver="fixed", alphas=a``; ``cv=k`` is
    ``solver_params={"cv": k}``; ``backend=b`` is ``device=b``. The deprecated keys are dropped."""
    params = dict(params)
    backend = params.pop("backend", DEPRECATED)
    if not (isinstance(backend, str) and backend == DEPRECATED):
        deprecated(f"{estimator}(backend=...)", f"{estimator}(device=...) ('cpu', 'cuda', or a himalaya backend's "
                   "name)", stacklevel=4)
        params["device"] = backend
    if isinstance(params.get("alpha_per"), str) and params["alpha_per"] == "all":
        deprecated('alpha_per="all"', 'alpha_per="group"', stacklevel=4)
        params["alpha_per"] = "group"
    fixed_alpha, cv = params.pop("fixed_alpha", DEPRECATED), params.pop("cv", DEPRECATED)
    if not (isinstance(fixed_alpha, str) and fixed_alpha == DEPRECATED):
        deprecated(f"{estimator}(fixed_alpha=...)", f"{estimator}(solver='fixed', alphas=...)", stacklevel=4)
        params["solver"], params["alphas"] = "fixed", fixed_alpha
    if not (isinstance(cv, str) and cv == DEPRECATED):
        deprecated(f"{estimator}(cv=...)", f"{estimator}(solver_params={{'cv': ...}})", stacklevel=4)
        params["solver_params"] = {**(params.get("solver_params") or {}), "cv": cv}
    return params


def device_of(estimator) -> str:
    """Where ``estimator``'s maths runs: its ``device``, or the deprecated ``backend`` when that was given."""
    backend = getattr(estimator, "backend", DEPRECATED)
    return estimator.device if isinstance(backend, str) and backend == DEPRECATED else backend


# ------------------------------------------------------------------------------------------- parameters
def _one_of(*values):
    return f"one of {values}", lambda v: isinstance(v, str) and v in values


def _integer(minimum: int):
    return f"an integer >= {minimum}", lambda v: (isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                                 and v >= minimum)


def _optional(kind, description):
    return f"{description} or None", lambda v: v is None or isinstance(v, kind)


def _real_numbers(values) -> str | None:
    """Why ``values`` is not a 1-D collection of finite positive real numbers, or None when it is."""
    if isinstance(values, numbers.Real) and not isinstance(values, (bool, np.bool_)):
        values = [values]  # one alpha
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        return f"found {type(values).__name__}"
    array = np.asarray(values, dtype=object).ravel() if not isinstance(values, np.ndarray) else values.ravel()
    if array.size == 0:
        return "found none"
    if isinstance(values, np.ndarray) and values.dtype.kind not in "iuf":
        return f"found dtype {values.dtype}"
    for k, v in enumerate(array):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            return f"element {k} is {v!r} ({type(v).__name__})"
        if not (np.isfinite(float(v)) and float(v) > 0):
            return f"element {k} is {float(v)!r}"
    return None


PARAMETERS = {
    "alphas": ("None, or finite positive numbers (one, or a 1-D sequence; with solver='fixed', {group: number})",
               lambda v: v is None or _real_numbers(list(v.values()) if isinstance(v, Mapping) else v) is None),
    "alpha_per": _one_of(*ALPHA_PER),
    "device": _one_of(*DEVICES),
    "chunk_size": _integer(1),
    "eigh_dtype": _one_of("float32", "float64"),
    "solver": (lambda: f"one of {tuple(SOLVERS)}", lambda v: isinstance(v, str) and v in SOLVERS),  # read live
    "solver_params": ("None or a mapping (its 'cv' an integer >= 2)", lambda v: v is None or (
        isinstance(v, Mapping) and ("cv" not in v or _integer(2)[1](v["cv"])))),
    "path": _optional((str, Path), "a path"),
}


def check_params(params: dict) -> np.ndarray:
    """Check every parameter in ``params`` against ``PARAMETERS``; returns the alpha grid (A,) float64."""
    for name, value in params.items():
        description, valid = PARAMETERS[name]
        if not valid(value):
            description = description() if callable(description) else description
            values = list(value.values()) if isinstance(value, Mapping) else value
            why = _real_numbers(values) if name == "alphas" else None
            raise ParameterError(f"{name} must be {description}; got {value!r}" + (f" ({why})" if why else ""),
                                 param=name)
    alphas, solver = params.get("alphas"), params.get("solver", "gcv")
    if solver == "himalaya" and params.get("alpha_per") != "target":
        raise ParameterError("solver='himalaya' chooses one alpha per target: alpha_per='target' only",
                             param="alpha_per")
    if solver == "fixed":
        if alphas is None or (not isinstance(alphas, Mapping) and np.size(alphas) != 1):
            raise ParameterError(f"solver='fixed' takes the alpha in alphas: one number or {{group: number}}; got "
                                 f"{alphas!r}", param="alphas")
        alphas = sorted(set(map(float, alphas.values()))) if isinstance(alphas, Mapping) else alphas
    elif isinstance(alphas, Mapping):
        raise ParameterError(f"alphas {{group: number}} go with solver='fixed'; solver is {solver!r}", param="alphas")
    return resolve_alphas(alphas)


def fixed_alphas(alphas, groups) -> dict:
    """{group: alpha} of ``solver="fixed"``'s ``alphas`` (checked by ``check_params``) for ``groups``."""
    if isinstance(alphas, Mapping):
        missing = [g for g in groups if g not in alphas]
        if missing:
            raise InputError(f"alphas has no value for groups {missing}; it has {sorted(alphas)}")
        return {g: float(alphas[g]) for g in groups}
    return {g: float(np.ravel(alphas)[0]) for g in groups}


def resolve_alphas(alphas) -> np.ndarray:
    """The alpha grid: ``alphas`` as float64, or ``DEFAULT_ALPHAS`` for None (the one place the default is taken)."""
    return np.atleast_1d(np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64)).ravel()


def params_repr(estimator) -> str:
    """``Name(param=value, ...)`` with the parameters that differ from their defaults, as scikit-learn prints."""
    defaults = {k: p.default for k, p in inspect.signature(type(estimator).__init__).parameters.items()}
    changed = []
    for name, value in estimator.get_params().items():
        default = defaults.get(name)
        same = (value is default or (not isinstance(value, (np.ndarray, list, tuple, Mapping))
                                     and not isinstance(default, (np.ndarray, list, tuple, Mapping))
                                     and value == default))
        if not same:
            changed.append(f"{name}={value!r}")
    return f"{type(estimator).__name__}({', '.join(changed)})"


# ----------------------------------------------------------------------------------------------- inputs
def compute_dtype(dtype) -> np.dtype:
    """The dtype an input is read in: float32 stays float32 (as do float16 and small integers, which it holds
    exactly), anything else numeric becomes float64, so means are taken from the caller's values."""
    dtype = np.dtype(dtype)
    if dtype == np.float32 or (dtype.kind in "fiub" and dtype.itemsize <= 2):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


CHECK_BLOCK = 4096  # columns checked at a time: no (n, t) array of booleans (780 MB at 88,000 NSD targets)


def _check_range(name: str, values: np.ndarray, what: str) -> None:
    finite = np.concatenate([np.isfinite(values[:, a : a + CHECK_BLOCK]).all(axis=0)
                             for a in range(0, values.shape[1], CHECK_BLOCK)] or [np.ones(0, bool)])
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise InputError(f"{name} has NaN or infinite values in {what} {bad[:5].tolist()}"
                         f"{f' ... ({len(bad)} in all)' if len(bad) > 5 else ''}: drop or impute them before fitting")
    if values.dtype.itemsize > 4 and values.size and np.abs(values).max() > FLOAT32_MAX:
        raise InputError(f"{name} has values beyond float32's range (up to {np.abs(values).max():.3g}; float32 "
                         f"holds {FLOAT32_MAX:.3g}): rescale it")


def feature_names(X) -> list[str] | None:
    """The column names of ``X`` when it has them all as strings (a pandas DataFrame), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or not all(isinstance(c, str) for c in columns):
        return None
    return [str(c) for c in columns]


def check_feature_names(X, fitted: list[str] | None) -> None:
    """Stop when ``X``'s column names are not the ones seen in ``fit`` (another order included), as
    scikit-learn does: predicting from reordered columns would use the wrong voxels."""
    names = feature_names(X)
    if fitted is None or names is None or names == list(fitted):
        return
    moved = [n for k, n in enumerate(names) if k >= len(fitted) or fitted[k] != n]
    raise InputError(f"X's column names differ from those seen in fit (first that differ: {moved[:3]}): give the "
                     f"columns of fit, in fit's order (reorder with X[model.feature_names_in_])")


ACCEPTED = "numpy arrays (memory maps included), pandas DataFrames or Series, lists, or torch tensors"


def as_dense(value, name: str):
    """``value`` as an array the estimators read: numpy arrays, pandas objects and lists as given (``np.asarray``
    reads them), a torch tensor copied to the host; a sparse matrix, or anything numpy would make an object array
    of, is an ``InputTypeError`` naming ``name``, its type and what is accepted. h5py datasets and lazy rows (with a
    numpy ``shape`` and ``dtype``) stay as they are: they are read chunk by chunk."""
    kind = type(value)
    module = kind.__module__ or ""
    where = f"{name} is a {module}.{kind.__name__}"
    if module.startswith("scipy.sparse") or hasattr(value, "tocsr"):
        raise InputTypeError(f"{where}: sparse input is not supported (the kernel is dense); give "
                             f"{name}.toarray(), or one of {ACCEPTED}")
    if module.startswith("torch"):
        try:
            return torch_to_host(value)
        except (AttributeError, TypeError, RuntimeError) as exc:
            raise InputTypeError(f"{where} that cannot be copied to a numpy array ({exc}); accepted: "
                                 f"{ACCEPTED}") from exc
    if hasattr(value, "shape") and hasattr(value, "dtype") and not module.startswith("pandas"):
        try:
            if np.dtype(value.dtype).kind != "O":
                return value
        except TypeError:
            pass
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged lists, objects numpy cannot read
        raise InputTypeError(f"{where} that numpy cannot read as an array ({exc}); accepted: {ACCEPTED}") from exc
    if array.dtype.kind == "O":  # numbers held as Python objects (scikit-learn accepts them): as float64
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            why = f" ({exc})"
    else:
        why = ""
    if array.dtype.kind in "OSUV" or array.ndim == 0:
        raise InputTypeError(f"{name} must hold real numbers (n_samples, ...); found a {module}.{kind.__name__} "
                             f"{f'of dtype {array.dtype}' if array.ndim else 'with no shape'}{why}; accepted: "
                             f"{ACCEPTED}")
    return array


def check_X(X, name: str = "X", min_samples: int = 1) -> np.ndarray:
    """``X`` (n, p) of real, finite numbers within float32's range, as float32 or float64 (the caller's array
    itself when it already is one: it is never written)."""
    X = np.asarray(as_dense(X, name))
    if X.ndim != 2:
        raise InputError(f"{name} must be 2-D (n_samples, n_features); found shape {X.shape}"
                         + (f": Reshape your data, {name}.reshape(-1, 1) for one feature or {name}.reshape(1, -1) "
                            "for one sample" if X.ndim == 1 else ""))
    if X.dtype.kind not in "biuf":
        raise InputTypeError(f"{name} must hold real numbers; found dtype {X.dtype}"
                             + (" (Complex data not supported)" if X.dtype.kind == "c" else ""))
    if X.shape[1] == 0:
        raise InputError(f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    if X.shape[0] < min_samples:
        raise InputError(f"{name} has {X.shape[0]} sample(s): at least {min_samples} samples are needed "
                         f"(n_samples = {X.shape[0]})")
    X = X.astype(compute_dtype(X.dtype), copy=False)
    _check_range(name, X, "columns")
    return X


def check_targets(targets, n: int) -> dict:
    """``targets`` {group: (n, ...)} of real numbers, checked (values too where they are in memory)."""
    if not isinstance(targets, Mapping) or not targets:
        raise InputError("targets must be an array (n_samples, ...) or a non-empty mapping {group name: array}")
    out = {}
    for name, Y in targets.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise InputError(f"target group names must be non-empty strings without '/'; got {name!r}")
        Y = as_dense(Y, f"target group {name!r}" if name != "y" else "y")
        if len(Y.shape) < 2 or int(np.prod(Y.shape[1:])) == 0:
            raise InputError(f"target group {name!r} is empty or 1-D: expected (n_samples, ...), one target as "
                             f"(n_samples, 1); found shape {tuple(Y.shape)}")
        if Y.shape[0] != n:
            raise InputError(f"target group {name!r} has {Y.shape[0]} rows; X has {n}")
        if np.dtype(Y.dtype).kind not in "fiu":
            raise InputTypeError(f"target group {name!r} must hold real numbers; found dtype {Y.dtype}")
        if isinstance(Y, np.ndarray):  # in memory: cheap to check before any work
            _check_range(f"target group {name!r}", Y.reshape(n, -1), "flattened targets")
        out[name] = Y
    return out


# ---------------------------------------------------------------------------------------------- warnings
def warn_grid_edges(alphas: dict, grid: np.ndarray, y_std: dict, stacklevel: int = 3) -> str | None:
    """Warn (``AlphaGridWarning``) when, in a group, more than ``GRID_EDGE_FRACTION`` of the non-constant targets
    chose the grid's first or last alpha; returns the message (None when there is nothing to say)."""
    lines = []
    for g, chosen in alphas.items():
        varying = np.asarray(y_std[g]) > 0
        if not varying.any() or len(grid) < 2:
            continue
        for edge, value, fix in (("smallest", grid.min(), "smaller"), ("largest", grid.max(), "larger")):
            fraction = float(np.mean(np.asarray(chosen)[varying] == value))
            if fraction > GRID_EDGE_FRACTION:
                lines.append(f"{fraction:.0%} of the targets of {g!r} chose the {edge} alpha ({value:.3g}): "
                             f"the best may be {fix}")
    if not lines:
        return None
    message = "; ".join(lines) + f": widen the grid ({python_fix('alphas')})"
    warnings.warn(message, AlphaGridWarning, stacklevel=stacklevel)
    return message


def warn_precision(alphas: dict, s_max: float, eigh_dtype: str, stacklevel: int = 3) -> str | None:
    """Warn when targets chose an alpha below the eigendecomposition's absolute eigenvalue error (eps of
    ``eigh_dtype`` times the kernel's largest eigenvalue ``s_max``): their coefficients are round-off. Returns the
    message, or None."""
    bound = core.precision_bound(s_max, eigh_dtype)
    below = {g: int((np.asarray(a) < bound).sum()) for g, a in alphas.items()}
    below = {g: k for g, k in below.items() if k}
    if not below:
        return None
    message = (f"targets chose alphas below {bound:.3g}, the precision of the {eigh_dtype} eigendecomposition "
               f"({np.finfo(eigh_dtype).eps:.2g} x the kernel's largest eigenvalue {s_max:.3g}): "
               + ", ".join(f"{k} of {g!r}" for g, k in below.items())
               + f"; their coefficients are round-off: use larger alphas, or {python_fix('eigh_dtype')}")
    warnings.warn(message, AlphaGridWarning, stacklevel=stacklevel)
    return message
