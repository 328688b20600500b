"""The maps stage: per-voxel brain maps of a subject (noise ceiling, encoding maps per feature family, the decoder's
activation patterns), written as NIfTI in the subject's own grid, with a figure and ``maps.json``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import plots
from ..errors import DataFileError, InputError
from ..evaluation import maps
from ..evaluation.maps import to_volume
from ..features import REGISTRY
from ..results import Predictions
from ..ridge import OneStageRidge
from ..runtime import layout
from ..runtime.io import versions, write_json
from ..runtime.runs import FolderLock, claim, commit, staging
from ..sources import Source
from ..sources.base import noise_ceiling
from .common import TupleResult, feature_store, leave_resumable, request_config, same_source, writing
from .extract import extract_features
from .predict import _fit_summary, _fitted_voxels, _one_run

MAPS = Path("maps")  # default parent of a subject's maps folder


@dataclass
class MapsRequest:
    """Which maps of ``source`` to make (see ``maps --help``). ``extra`` adds feature families given as arrays
    {name: (n_images, ...)} for ``extra_ids`` (the synthetic subject's planted latent, for instance)."""

    source: Source
    families: list[str] = field(default_factory=lambda: ["pixels"])
    model_dir: str | Path | None = None
    features_dir: str | Path | None = None
    out: str | Path | None = None
    alphas: list[float] | None = None
    extra: dict = field(default_factory=dict)
    extra_ids: np.ndarray | None = None
    echo: Callable[[str], None] = print


def compute_maps(req: MapsRequest, read: dict | None = None) -> dict[str, np.ndarray]:
    """{map name: (p,) values over the source's voxels}: ``noise_ceiling`` (where the source has ncsnr),
    ``encoding_<family>`` per family, ``share_<a>_vs_<b>`` for the first two, ``pattern_<group>`` per group of the
    fit in ``model_dir``. ``read`` (a dict) receives ``"fit"``: the folder and run id of the fit read."""
    data = req.source.data(progress=False)
    # the fit is checked first (its run, source and voxels), so that a wrong --model-dir stops before any map
    fit = _read_fit(req, data, read if read is not None else {}) if req.model_dir is not None else None
    ids = np.concatenate([data.train_ids, data.test_ids])
    betas = np.concatenate([data.train_betas, data.test_betas])
    out = {}
    try:
        out["noise_ceiling"] = noise_ceiling(req.source.ncsnr(), float(np.mean(data.train_repeats)))
    except DataFileError as exc:
        req.echo(f"no noise-ceiling map: {str(exc).splitlines()[0]}")
    features = _features(req, ids)
    for name, X in features.items():
        req.echo(f"encoding map of {name}: {X.shape[1] if X.ndim > 1 else 1} features -> {betas.shape[1]} voxels")
        out[f"encoding_{name}"] = maps.encoding_r2(X, betas, req.alphas)
    names = list(features)
    if len(names) >= 2:
        out[f"share_{names[0]}_vs_{names[1]}"] = maps.family_share(out[f"encoding_{names[0]}"],
                                                                    out[f"encoding_{names[1]}"])
    if fit is not None:
        out.update(_patterns(data, *fit))
    return out


def _features(req: MapsRequest, ids: np.ndarray) -> dict[str, np.ndarray]:
    store = feature_store(req.features_dir, req.source)
    missing = [n for n in req.families if not store.exists(n) and n in REGISTRY and not REGISTRY[n].needs_weights]
    if missing:  # a family that needs no weights costs seconds: made now, as fit does
        extract_features(req.source, missing, features_dir=req.features_dir, progress=False)
    out = {}
    for name in req.families:
        out[name] = store.read(name, ids).reshape(len(ids), -1)
    for name, values in req.extra.items():
        order = {int(i): k for k, i in enumerate(req.extra_ids)}
        missing = [int(i) for i in ids if int(i) not in order]
        if missing:
            raise InputError(f"extra features {name!r} lack images {missing[:5]}")
        out[name] = np.asarray(values)[[order[int(i)] for i in ids]].reshape(len(ids), -1)
    return out


def _read_fit(req: MapsRequest, data, read: dict) -> tuple:
    """(the model, the training betas in its voxels, its voxel selection) of the fit in ``model_dir``. Its voxels
    are checked as ``predict`` checks them (their number, and their coordinates where the fit recorded its grid),
    and its files must be of one run, whose id goes into ``read["fit"]``."""
    model_dir = Path(req.model_dir)
    fit = _fit_summary(model_dir)
    predictions = Predictions.load(model_dir, arrays=False)
    same_source(predictions.source, req.source, "a fit", model_dir)
    model = OneStageRidge.load(model_dir / layout.MODEL)
    _one_run(model_dir, {layout.SUMMARY: fit.get("run_id"), layout.MODEL: model.run_id_,
                         layout.PREDICTIONS: predictions.run_id})
    read["fit"] = {"model_dir": str(model_dir.resolve()), "run_id": fit.get("run_id")}
    keep = predictions.selected_voxels
    return model, _fitted_voxels(data.train_betas, keep, model, fit, req.source, model_dir, data.voxel_xyz), keep


def _patterns(data, model, X, keep) -> dict[str, np.ndarray]:
    """The decoder's activation pattern of each group the fit predicts, on its training images ``X``."""
    pred = model.predict(X)
    out = {}
    for group, values in (pred.items() if isinstance(pred, dict) else [("y", pred)]):
        pattern = maps.activation_pattern(X, values)
        if keep is not None:  # the fit's voxels only; the others are NaN in its map
            full = np.full(data.n_voxels, np.nan, np.float32)
            full[keep] = pattern
            pattern = full
        out[f"pattern_{group}"] = pattern
    return out


@dataclass
class MapsResult(TupleResult):
    """What the maps stage wrote: ``maps.json``'s content (``summary["maps"]``: each map's voxels, min, median and
    max) and the folder of the NIfTI files."""

    summary: dict
    folder: Path
    _tuple = ("summary", "folder")


def brain_maps(source: Source, families=("pixels",), model_dir=None, out=None, **options) -> MapsResult:
    """Brain maps of ``source``: one value per voxel, written as NIfTI in the subject's own grid.

    Parameters
    ----------
    source : NSDSource or NiftiSource
        A source with a voxel grid (an ``HDF5Source`` has none: an ``InputError``).
    families : sequence of str
        Feature families (``pixels``, ``autokl``, ...) to fit an encoding map of each.
    model_dir : str or Path, optional
        A fitted model's folder (``ridge-decode fit``): adds the decoder's activation pattern per feature family.
    out : str or Path, optional
        The output folder; default ``maps/<label>``.
    **options
        ``features_dir`` (the feature cache), ``alphas`` (the ridge grid, unitless), ``extra`` (more families as
        arrays {name: (n_images, ...)}) and ``extra_ids`` ((n_images,) their image ids).

    Returns
    -------
    MapsResult
        ``summary``: the content of ``maps.json`` (the maps written, the source and the versions); ``folder``:
        where ``<name>.nii.gz`` (float32, one 3-D volume per map, NaN outside the mask), ``maps.png`` and
        ``maps.json`` were written. The maps: ``noise_ceiling`` (percent of variance, where the source has ncsnr),
        ``encoding_<family>`` (out-of-sample R^2 per voxel, by GCV), ``share_<a>_vs_<b>`` for the first two families
        (in [0, 1]: the share of a voxel's explained variance that ``a`` explains; 0.5 where both explain it
        equally) and ``pattern_<group>`` (the activation pattern, in the betas' units).
    """
    return make_maps(MapsRequest(source, list(families), model_dir=model_dir, out=out, **options))


def make_maps(req: MapsRequest) -> MapsResult:
    """Compute the maps and write ``<out>/<name>.nii.gz`` for each, ``maps.png`` and ``maps.json``."""
    grid = req.source.grid()
    if grid is None:
        raise InputError(f"{req.source} has no voxel grid (an HDF5 file holds voxels as columns): brain maps need "
                         "NSD's nsdgeneral ROI (--data-root) or NIfTI betas with a mask (--betas, --mask)")
    out = layout.folder(req.out, "--out") if req.out is not None else layout.folder(
        MAPS / layout.check_label(req.source.label), "the maps folder")
    claim(out, "maps", "--out" if req.out is not None else "the maps folder")  # before the work; again when locked
    read = {}
    values = compute_maps(req, read)
    summary = {"label": req.source.label, "source": req.source.describe(), "fit": read.get("fit"),
               "maps": {k: _describe(v) for k, v in values.items()},
               "config": request_config(req, families=list(req.families), extra=sorted(req.extra)),
               "versions": versions()}
    with FolderLock(out, kind="maps") as lock:
        summary["run_id"] = lock.run_id
        try:
            with writing(staging(out)):
                names = _write(staging(out), values, req.source.data(progress=False).voxel_xyz, grid, summary)
            commit(out, lock, names)
        except BaseException:
            leave_resumable(staging(out), req.echo)
            raise
    return MapsResult(summary, out)


def _describe(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    return {"voxels": int(finite.size), "min": float(finite.min()), "median": float(np.median(finite)),
            "max": float(finite.max())}


def _write(stage: Path, values: dict, voxel_xyz, grid, summary: dict) -> list[str]:
    # heavy (nibabel): imported where used
    import nibabel as nib

    stage.mkdir(parents=True, exist_ok=True)
    names, images = [], {}
    for name, v in values.items():  # into the staging folder: the commit makes them appear together
        image = nib.Nifti1Image(to_volume(v, voxel_xyz, grid.shape), grid.affine)
        nib.save(image, str(stage / f"{name}.nii.gz"))
        names.append(f"{name}.nii.gz")
        images[name] = image
    plots.plot_maps(images, grid, stage / "maps.png", title=f"{summary['label']}: brain maps", run_id=summary["run_id"])
    write_json(stage / "maps.json", summary)
    return [*names, "maps.png", "maps.json"]
