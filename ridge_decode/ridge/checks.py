"""The checks of ``OneStageRidge``'s parameters and inputs: what ``fit`` and ``predict`` validate before any work."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from .device import BACKENDS

ALPHA_PER = ("target", "group")
SOLVER_CHOICES = ("gcv", "himalaya")


def check_params(model) -> np.ndarray:
    """The parameters of an ``OneStageRidge``, checked (an ``InputError`` naming the bad one); its alpha grid."""
    if model.alpha_per not in ALPHA_PER:
        raise InputError(f"alpha_per must be one of {ALPHA_PER}; got {model.alpha_per!r}")
    if model.backend not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}; got {model.backend!r}")
    if model.eigh_dtype not in ("float32", "float64"):
        raise InputError(f"eigh_dtype must be 'float32' or 'float64'; got {model.eigh_dtype!r}")
    if model.solver not in SOLVER_CHOICES:
        raise InputError(f"solver must be one of {SOLVER_CHOICES}; got {model.solver!r}")
    if model.solver == "himalaya" and (model.fixed_alpha is not None or model.alpha_per != "target"):
        raise InputError("solver='himalaya' chooses one alpha per target: it takes no fixed_alpha and "
                         "alpha_per='target' only")
    if model.solver == "himalaya" and int(model.cv) < 2:
        raise InputError(f"cv must be at least 2 folds; got {model.cv!r}")
    if int(model.chunk_size) < 1:
        raise InputError(f"chunk_size must be a positive number of targets; got {model.chunk_size!r}")
    alphas = np.asarray(model.alphas, dtype=np.float64).ravel()
    if alphas.size == 0 or not np.isfinite(alphas).all() or (alphas <= 0).any():
        raise InputError(f"alphas must be finite and positive; got {alphas}")
    return alphas

def check_X(X, name: str = "X") -> np.ndarray:
    """``X`` (n, p) of real, finite numbers that fit float32, as float32."""
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

def check_targets(targets, n: int) -> dict:
    """``targets`` {group: (n, ...)} of real numbers, checked (finite where they are in memory)."""
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

def fixed_alphas(model, groups) -> dict | None:
    """{group: alpha} of ``model.fixed_alpha`` for ``groups``, or None when alphas are chosen."""
    if model.fixed_alpha is None:
        return None
    if isinstance(model.fixed_alpha, Mapping):
        missing = [g for g in groups if g not in model.fixed_alpha]
        if missing:
            raise InputError(f"fixed_alpha has no value for groups {missing}; it has {sorted(model.fixed_alpha)}")
        fixed = {g: float(model.fixed_alpha[g]) for g in groups}
    else:
        fixed = {g: float(model.fixed_alpha) for g in groups}
    bad = {g: a for g, a in fixed.items() if not (np.isfinite(a) and a > 0)}
    if bad:
        raise InputError(f"fixed_alpha must be finite and positive; got {bad}")
    return fixed
