"""The predict stage: a fitted model applied to betas from any source, written as ``predictions.h5`` in the layout
that ``decode`` and ``evaluate`` read."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, DataFileError, DataFormatError, MissingFeaturesError
from ..evaluation import metrics
from ..results import Predictions
from ..ridge import OneStageRidge
from ..runtime import layout
from ..runtime.io import file_signature, versions, write_json
from ..runtime.runs import FolderLock, commit, staging
from ..sources import Source
from .common import TupleResult, feature_store, leave_resumable, request_config, writing


@dataclass
class PredictRequest:
    """Predict the targets of a fit in ``model_dir`` from the betas of ``source`` (see ``predict --help``)."""

    source: Source
    model_dir: str | Path
    out: str | Path | None = None
    split: str = "test"
    features_dir: str | Path | None = None
    progress: bool = True
    echo: Callable[[str], None] = print


@dataclass
class PredictResult(TupleResult):
    """What a predict wrote: the summary (also ``summary.json``) and the folder of ``predictions.h5``."""

    summary: dict
    folder: Path
    _tuple = ("summary", "folder")


def predict_subject(req: PredictRequest) -> PredictResult:
    """Write ``<out>/predictions.h5`` (and ``summary.json``) for split ``req.split`` of the source's betas, with
    the fit's voxel selection and rescaling; held-out r per target where the feature cache has the true targets.
    The folder is locked and committed as a fit's is."""
    out = layout.predict_dir(req.source.label, req.out)
    with FolderLock(out, echo=req.echo, kind="predict") as lock:
        try:
            summary = _predict_locked(req, staging(out), lock.run_id)
            commit(out, lock, layout.PREDICT_FILES)
        except BaseException:
            leave_resumable(staging(out), req.echo)
            raise
    return PredictResult(summary, out)


def _predict_locked(req: PredictRequest, stage: Path, run_id: str) -> dict:
    model_dir = layout.fit_dir(req.source.label, req.model_dir)
    fit = _fit_summary(model_dir)
    model = OneStageRidge.load(model_dir / layout.MODEL)
    fitted = Predictions.load(model_dir, arrays=False)
    _one_run(model_dir, {layout.SUMMARY: fit.get("run_id"), layout.MODEL: model.run_id_,
                         layout.PREDICTIONS: fitted.run_id})
    selected = fitted.selected_voxels
    data = req.source.data(progress=req.progress)
    X, ids = data.split(req.split)
    if not len(ids):
        raise DataFormatError(f"{req.source.where(req.split)}: no {req.split} rows to predict")
    X = _fitted_voxels(X, selected, model, fit, req.source, model_dir, data.voxel_xyz)
    rescale = bool(fit["config"].get("rescale", False))
    pred = model.predict(X, rescale=rescale)
    r = _held_out_r(req, pred, ids)
    with writing(stage):
        Predictions(ids=ids, pred=pred, r=r, rescaled=rescale, selected_voxels=selected,
                           source=req.source.identity(), run_id=run_id).save(stage)
        summary = {"label": req.source.label, "run_id": run_id, "source": req.source.describe(),
                   "fit_source": fit.get("source"), "model": file_signature(model_dir / layout.MODEL),
                   "n_images": int(len(ids)), "n_voxels": int(X.shape[1]),
                   "r": {g: float(np.nanmean(v)) for g, v in r.items()},
                   "config": request_config(req, model_dir=str(model_dir), rescale=rescale),
                   "files": {layout.PREDICTIONS: (stage / layout.PREDICTIONS).stat().st_size}, "versions": versions()}
        write_json(stage / layout.SUMMARY, summary)
    return summary


def _fit_summary(model_dir: Path) -> dict:
    path = model_dir / layout.SUMMARY
    if not path.exists():
        raise DataFileError(f"--model-dir {model_dir} holds no finished fit ({layout.SUMMARY} is missing): fit "
                            "first, with python scripts/fit.py")
    fit = layout.read_json(path)
    if fit is None:
        raise DataFormatError(f"{path} is not valid JSON (a damaged or hand-edited summary): fit again into "
                              f"{model_dir}, with python scripts/fit.py")
    if not isinstance(fit, dict) or not isinstance(fit.get("config"), dict):
        raise DataFormatError(f"{path} has no 'config' (the settings of the fit: a damaged, hand-edited or foreign "
                              f"summary): fit again into {model_dir}, with python scripts/fit.py")
    if not fit.get("source"):
        raise DataFormatError(f"{path} records no source (the fit was written by an earlier version of "
                              "ridge_decode), so predictions from it cannot be checked: fit again, with python "
                              "scripts/fit.py")
    return fit


def _one_run(model_dir: Path, run_ids: dict) -> None:
    """Stop when the fit's files were read from two runs (another fit committed into ``model_dir`` meanwhile)."""
    if len(set(run_ids.values())) > 1:
        found = ", ".join(f"{name}: run {rid}" for name, rid in run_ids.items())
        raise DataError(f"{model_dir} changed while predict read it ({found}): another fit committed there; run "
                        "predict again once it has finished")


def _fitted_voxels(X, selected, model, fit: dict, source: Source, model_dir: Path, xyz=None) -> np.ndarray:
    """The columns of ``X`` the model was fitted on (``--min-nc``'s selection applied); an error that names both
    voxel sets when they cannot be the same (another count, or, where both have a grid, other voxels)."""
    p_model = int(model.X_mean_.shape[0])
    p_full = p_model if selected is None else int(fit.get("noise_ceiling", {}).get("voxels_total", X.shape[1]))
    fitted_on = (fit.get("source") or {}).get("voxels", "voxels of another source")
    if X.shape[1] != p_full:
        raise DataFormatError(f"{source} has {X.shape[1]} voxels ({source.voxels()}); the model in {model_dir} was "
                              f"fitted on {p_full} voxels of {fitted_on}: give betas in the voxels the model was "
                              "fitted with")
    grid = fit.get("voxel_grid")
    if grid and xyz is not None and _grid_digest(xyz) != grid:
        raise DataFormatError(f"{source} has {X.shape[1]} voxels ({source.voxels()}), as many as the model in "
                              f"{model_dir}, but not the same ones: it was fitted on {fitted_on}")
    return X if selected is None else X[:, selected]


def _grid_digest(xyz) -> str:
    """A digest of a voxel set's coordinates (what a fit records, so that predict can compare voxel sets)."""
    return hashlib.sha256(np.ascontiguousarray(xyz, np.int64).tobytes()).hexdigest()[:16]


def _held_out_r(req: PredictRequest, pred: dict, ids) -> dict:
    """Per-target r of each group whose true features the cache holds for every id (none otherwise, said once)."""
    store = feature_store(req.features_dir, req.source)
    r = {}
    for g, p in pred.items():
        try:
            y = store.read(g, ids) if store.exists(g) else None
        except MissingFeaturesError:
            y = None
        if y is None:
            req.echo(f"{g}: the feature cache {store.features_dir} lacks these images, so no r is computed")
            continue
        r[g] = metrics.columnwise_r(p.reshape(len(p), -1), y.reshape(len(y), -1))
    return r
