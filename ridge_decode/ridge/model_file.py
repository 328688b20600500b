"""The model file of ``OneStageRidge``: its format, its header, its generation (which fit it holds), the checks a
file passes before it is read, what a fitted estimator reads back from it, and loading one.

The arrays it holds are listed in ``stores``; docs/ridge.md ("Memory and the model file") describes them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataFileError, DataFormatError
from ..runtime.io import versions
from .stores import HDF5Store

# /3: the standardised training voxels ``Xs_train`` are stored (standardised in float64 from the caller's values);
# /2 files hold the raw float32 ``X_train`` instead, standardised again to predict. Both load.
FORMAT = "ridge_decode.OneStageRidge/3"
FORMATS_READ = ("ridge_decode.OneStageRidge/2", FORMAT)


@contextmanager
def read_store(path):
    """The model file at ``path`` as a read-only ``HDF5Store``."""
    with h5py.File(path, "r") as f:
        yield HDF5Store(f)


def write_header(st, config) -> None:
    """The attributes a fit writes first: format, generation, configuration, versions, not yet complete."""
    st.attrs["format"] = FORMAT
    st.attrs["fit_id"] = uuid.uuid4().hex  # this fit's generation: a reader compares it at each read
    st.attrs["config"] = json.dumps(config)
    st.attrs["versions"] = json.dumps(versions())
    st.attrs["complete"] = False
    st.attrs["eigh_dtype"] = config["eigh_dtype"]


def generation(st) -> str:
    """The fit a model store holds: its ``fit_id`` (files written before it: a digest of its configuration and its
    runs, which name when each call started)."""
    if "fit_id" in st.attrs:
        return str(st.attrs["fit_id"])
    return hashlib.sha1((str(st.attrs.get("config", "")) + str(st.attrs.get("runs", ""))).encode()).hexdigest()


def check_model_file(f, path, config: dict) -> None:
    """Every array a model file must hold, with its dtype and shape (a ``DataFormatError`` naming the file and the
    dataset): a damaged or hand-edited file stops here, not as a wrong prediction."""
    n, p = int(config["n_images"]), int(config["n_voxels"])
    train = "Xs_train" if "Xs_train" in f else "X_train"
    expected = {"X_mean": (p,), "X_scale": (p,), train: (n, p)}
    for g, trailing in config["groups"].items():
        t = int(np.prod(trailing))
        expected.update({f"groups/{g}/coef": (n, t), f"groups/{g}/alphas": (t,), f"groups/{g}/y_mean": (t,),
                         f"groups/{g}/y_std": (t,)})
    for name, shape in expected.items():
        if name not in f or not isinstance(f[name], h5py.Dataset):
            raise DataFormatError(f"{path} has no dataset {name!r}: not a complete ridge_decode model; fit it again")
        d = f[name]
        if d.dtype.kind != "f" or tuple(d.shape) != shape:
            raise DataFormatError(f"{path}: dataset {name!r} is {d.dtype} {tuple(d.shape)}; a model of this fit "
                                  f"holds floats of shape {shape}: the file was altered; fit it again")


def open_checked(path) -> dict:
    """The configuration of the complete model file at ``path``, after every check (format, completeness, each
    array's dtype and shape); any other fault (truncated, not HDF5, unreadable) is a data error naming the file."""
    path = Path(path)
    if not path.exists():
        part = Path(str(path) + ".part")
        hint = f" ({part} is an unfinished fit: run the fit again to resume it)" if part.exists() else ""
        raise DataFileError(f"no fitted model at {path}{hint}")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") not in FORMATS_READ:
                raise DataFormatError(f"{path} is not a ridge_decode model of this version: format attribute "
                                      f"{f.attrs.get('format')!r}, expected one of {FORMATS_READ}: fit it again")
            if not f.attrs.get("complete", False):
                raise DataFormatError(f"{path} holds an incomplete fit")
            config = json.loads(f.attrs["config"])
            check_model_file(f, path, config)
            return config
    except PermissionError:
        raise DataFileError(f"{path}: permission denied (the model file cannot be read)") from None
    except (OSError, KeyError, ValueError) as exc:
        if isinstance(exc, (DataFormatError, DataFileError)):
            raise
        raise DataFormatError(f"{path} is not a readable ridge_decode model ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:120]}): it is damaged or truncated; fit it again") from None


def current_params(saved: dict, names) -> dict:
    """The saved parameters in today's ``names``: files written before ``solver="fixed"`` and
    ``solver_params["cv"]`` saved ``fixed_alpha`` and ``cv`` (and the run options ``progress`` and ``overlap``)."""
    saved = dict(saved)
    if saved.get("fixed_alpha") is not None:
        saved["solver"], saved["alphas"] = "fixed", saved["fixed_alpha"]
    if "backend" in saved:  # before 0.2.0: himalaya's backend name, which device accepts as it is
        saved.setdefault("device", saved["backend"])
    if saved.get("alpha_per") == "all":  # before 0.2.0
        saved["alpha_per"] = "group"
    if saved.get("solver") == "himalaya" and "cv" in saved:
        saved["solver_params"] = {**(saved.get("solver_params") or {}), "cv": saved["cv"]}
    # the deprecated names are translated above: never passed on (they would warn at the next fit)
    return {k: v for k, v in saved.items() if k in names and k not in ("path", "fixed_alpha", "cv", "backend")}


def fitted_attributes(st) -> dict:
    """{attribute: value} of a fitted estimator, read from a finished model's store (None: the attribute is absent
    for this model)."""
    config = json.loads(st.attrs["config"])
    groups = list(config["groups"])
    out = {"groups_": groups, "fit_id_": generation(st), "run_id_": st.attrs.get("run_id"),
           "feature_names_in_": (np.array(config["feature_names"], dtype=object) if config.get("feature_names")
                                 else None),
           "X_mean_": st.get("X_mean"), "X_scale_": st.get("X_scale"), "alpha_grid_": np.array(st.get("alphas_grid")),
           "kernel_eigenvalues_": np.array(st.get("kernel_eigenvalues")) if st.has("kernel_eigenvalues") else None}
    out["n_features_in_"] = int(out["X_mean_"].shape[0])
    out["target_shapes_"] = {g: st.target_shape(g) for g in groups}
    for name in ("alphas", "y_mean", "y_std"):
        out[f"{name}_"] = {g: np.array(st.get(f"groups/{g}/{name}")) for g in groups}
    out["cv_scores_"] = {g: np.array(st.get(f"groups/{g}/cv_scores")) for g in groups
                         if st.has(f"groups/{g}/cv_scores")}
    return out


def check_same_fit(st, loaded: str, path) -> None:
    """Stop when the model file at ``path`` no longer holds the fit ``loaded`` (refitted, or replaced by another
    run's commit): an estimator's small arrays are in memory, its coefficients on disk, and the two must be one."""
    found = generation(st)
    if found != loaded:
        raise DataFormatError(f"{path} holds another fit than the one loaded (fit {loaded[:12]} was loaded, the file "
                              f"now holds fit {found[:12]}): it was refitted or replaced since; load it again "
                              "(OneStageRidge.load) to use the new fit")
