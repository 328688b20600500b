"""The fit stage: one source's voxels -> cached feature families, written as ``<out>/<label>``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from .. import plots
from ..errors import DataError, DataFileError, DataFormatError, InputError, NoImagesError
from ..evaluation import metrics
from ..features import REGISTRY
from ..results import Predictions
from ..ridge import DEFAULT_CHUNK_SIZE, AlphaGridWarning, OneStageRidge, resolve_alphas
from ..runtime import layout
from ..runtime.io import RESERVE_BYTES, peak_rss_mb, versions, write_json
from ..runtime.machine import require_device, require_space, writable
from ..runtime.runs import FolderLock, commit, staging
from ..sources import Source
from ..sources.base import noise_ceiling
from .common import Timer, feature_store, leave_resumable, renamed, request_config, writing
from .extract import ExtractRequest, run_extract
from .predict import _grid_digest


@dataclass
class FitRequest:
    """One fit (see ``fit --help``); ``out`` is the folder that receives ``<source label>/``.

    ``solver``, ``alphas`` and ``cv`` are ``OneStageRidge``'s words: ``alphas`` is the grid (A,) (None: the default
    grid), or with ``solver="fixed"`` the alpha itself, one number or {group: number}; ``cv`` the folds of
    ``solver="himalaya"``. ``fixed_alpha=X`` is deprecated: it means ``solver="fixed", alphas=X``.
    """

    source: Source
    families: list[str] = field(default_factory=lambda: ["pixels"])
    features_dir: str | Path | None = None
    out: str | Path = layout.OUTPUTS
    device: str = "cpu"
    alphas: np.ndarray | float | dict | None = None
    alpha_per: str = "target"
    solver: str = "gcv"
    cv: int = 5
    rescale: bool = False
    chunk_size: int | None = None
    min_nc: float | None = None
    progress: bool = True
    echo: Callable[[str], None] = print
    fixed_alpha: float | dict | None = None  # deprecated: solver="fixed", alphas=...

    backend: str | None = None  # deprecated since 0.2.0: device
    targets: list[str] | None = None  # deprecated since 0.2.0: families

    def __post_init__(self):
        renamed(self, "FitRequest", {"backend": "device", "targets": "families"})
        if self.fixed_alpha is not None:
            warnings.warn("FitRequest(fixed_alpha=X) is deprecated and will be removed in 0.3: use "
                          "FitRequest(solver='fixed', alphas=X)", FutureWarning, stacklevel=3)
            if self.solver not in ("gcv", "fixed") or self.alphas is not None:
                raise InputError(f"fixed_alpha is solver='fixed' with alphas={self.fixed_alpha!r}; it cannot go with "
                                 f"solver={self.solver!r} or alphas={self.alphas!r}")
            self.solver, self.alphas, self.fixed_alpha = "fixed", self.fixed_alpha, None


@dataclass
class FitResult:
    """What a fit wrote and returns: the summary (also ``summary.json``), the data, test predictions and targets."""

    summary: dict
    data: object
    pred: dict[str, np.ndarray]
    y_test: dict[str, np.ndarray]
    folder: Path


@dataclass
class FitInputs:
    """Everything a fit reads, checked: the voxels (after ``--min-nc``), the targets and what the summary says."""

    data: object
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: dict
    y_test: dict
    features_dir: Path
    constant: int
    ceiling: dict | None
    keep: np.ndarray | None


def fit_subject(req: FitRequest) -> FitResult:
    """Check, load, fit, predict and write ``<out>/<label>`` (model, predictions, summary, figure).

    The folder is locked for the run (a second run on it stops at once). Everything that can be checked before
    the fit is (the output folder, the data, the targets, the free space); then the files are written into the
    folder's staging place and committed in one step, so a failed, interrupted or killed run leaves the previous
    run whole. Training targets are read from the feature cache one chunk at a time; an interrupted fit resumes
    from the staged ``model.h5.part`` and says so. A missing family that needs no weights (``pixels``) is computed
    on the fly.
    """
    require_device(req.device)
    folder = layout.fit_dir(req.source.label, None, req.out)
    with FolderLock(folder, echo=req.echo, kind="fit") as lock:
        try:
            result = _fit_locked(req, folder, lock)
            commit(folder, lock, layout.FIT_FILES)
        except BaseException:
            leave_resumable(staging(folder), req.echo)
            raise
    return result


def _fit_locked(req: FitRequest, folder: Path, lock) -> FitResult:
    """The fit itself, into the staging folder of ``folder`` (see ``fit_subject``)."""
    fixed = req.solver == "fixed"
    alphas = resolve_alphas(None if fixed else req.alphas)  # the grid (with a fixed alpha: the figure's axis)
    timer = Timer()
    stage = staging(folder)
    with timer("load"):
        inputs = read_fit_inputs(req)
    model = OneStageRidge(alphas=req.alphas if fixed else alphas, alpha_per=req.alpha_per, device=req.device,
                          chunk_size=req.chunk_size or DEFAULT_CHUNK_SIZE, path=stage / layout.MODEL,
                          solver=req.solver, solver_params={"cv": req.cv} if req.solver == "himalaya" else None)
    _room_for_model(stage, inputs, req, 1 if fixed else len(alphas))
    with timer("fit"), writing(stage), warnings.catch_warnings():
        # the grid's warnings are in model.fit_warnings_: the summary table, summary.json and the figure say them
        warnings.simplefilter("ignore", AlphaGridWarning)
        model.fit(inputs.X_train, inputs.y_train, progress=req.progress)
    with timer("predict"):
        pred = model.predict(inputs.X_test, rescale=req.rescale)
    r = {g: metrics.columnwise_r(pred[g].reshape(len(pred[g]), -1), y.reshape(len(y), -1))
         for g, y in inputs.y_test.items()}
    if all(np.isnan(v).all() for v in r.values()):
        raise DataFormatError(f"every held-out r of {req.families} is undefined (constant predictions): the fit of "
                              f"{req.source} learned nothing; its files stay in {stage}")
    with timer("write"), writing(stage):
        Predictions(ids=inputs.data.test_ids, pred=pred, r=r, rescaled=req.rescale,
                           selected_voxels=None if inputs.keep is None else np.flatnonzero(inputs.keep),
                           source=req.source.identity(), run_id=lock.run_id).save(stage)
        plots.plot_fit_summary(r, model.alphas_, stage / layout.FIT_FIGURE, run_id=lock.run_id, grid=alphas,
                          warnings=model.fit_warnings_)
        with h5py.File(stage / layout.MODEL, "a") as f:  # every file of the run names it
            f.attrs["run_id"] = lock.run_id
    summary = fit_summary(req, inputs, model, r, timer, alphas)
    summary["run_id"] = lock.run_id
    summary["files"] = {n: (stage / n).stat().st_size for n in layout.FIT_FILES if n != layout.SUMMARY}
    with writing(stage):
        write_json(stage / layout.SUMMARY, summary)
    return FitResult(summary, inputs.data, pred, inputs.y_test, folder)


MODEL_FILE_OVERHEAD = 1 << 18  # bytes: HDF5's headers, chunk indexes and attributes, above the arrays


def _room_for_model(stage: Path, inputs: FitInputs, req: FitRequest, n_alphas: int) -> None:
    """Stop before the fit when the disk cannot hold the model file (float32: the training voxels, the eigenbasis
    and every target's dual coefficients), so that h5py never meets a full disk mid-write."""
    n, p = inputs.X_train.shape
    t = sum(int(np.prod(y.shape[1:])) for y in inputs.y_train.values())
    part = stage / (layout.MODEL + ".part")
    have = part.stat().st_size if part.exists() else 0
    # float32 voxels and eigenbasis, float64 voxel statistics; per target: float32 coefficients and GCV scores,
    # float64 alpha, mean and scale. The room HDF5 keeps to close its file whole (io.disk_reserve) counts too.
    size = 4 * n * (p + n) + 16 * p + t * (4 * n + 4 * n_alphas + 24) + MODEL_FILE_OVERHEAD
    require_space(writable(stage, "--out"), size - have + RESERVE_BYTES, f"the model of {req.source.label}")


def read_fit_inputs(req: FitRequest) -> FitInputs:
    """The source's data and the targets from the feature cache, every check a fit needs done before it starts."""
    source, groups = req.source, list(req.families)
    data = source.data(progress=req.progress)
    constant = data.check(source.where)
    if constant:
        req.echo(f"{constant} of {data.n_voxels} voxels are constant over the training images: kept, they are "
                 "centred to zero and contribute nothing")
    store = feature_store(req.features_dir, source)
    fdir = store.features_dir
    ids = np.concatenate([data.train_ids, data.test_ids])
    for g in groups:
        if g not in REGISTRY and not store.exists(g):
            raise InputError(f"--families {g}: no such feature family (known: {','.join(sorted(REGISTRY))}), and no "
                             f"file {store.path(g)} in the feature cache")
        lack = store.missing(g, ids)
        # a family that needs no weights costs seconds: make (or complete) it now instead of stopping
        if len(lack) and g in REGISTRY and not REGISTRY[g].needs_weights:
            req.echo(f"{g}: {len(lack)} of this fit's images are not in the feature cache {fdir}: computing them now "
                     "(it needs no weights)")
            try:
                run_extract(ExtractRequest([g], source, features_dir=fdir, progress=req.progress))
            except DataFormatError as exc:  # a file made otherwise (by hand, another dtype): name what it lacks
                raise store.missing_error(g, lack, extract_command(source, g, fdir) + f"\n({exc})") from exc
            lack = store.missing(g, ids)
        if len(lack) and not store.exists(g):
            raise DataError(f"feature family {g!r} is not in the feature cache {fdir}. Compute it with:\n"
                            f"    {extract_command(source, g, fdir)}")
        if len(lack):
            raise store.missing_error(g, lack, extract_command(source, g, fdir))
    _check_images(source, store, groups, ids)
    y_train = {g: store.rows(g, data.train_ids) for g in groups}
    y_test = {g: store.read(g, data.test_ids) for g in groups}
    if not any((np.ptp(y.reshape(len(y), -1), axis=0) > 0).any() for y in y_test.values()):
        raise DataFormatError(f"every target of {groups} is constant over the {len(data.test_ids)} test images "
                              f"of {source}: no held-out correlation can be computed")
    ceiling, keep = noise_ceiling_selection(source, data, req.min_nc)
    X_train, X_test = data.train_betas, data.test_betas
    if keep is not None:
        X_train, X_test = X_train[:, keep], X_test[:, keep]
    return FitInputs(data, X_train, X_test, y_train, y_test, fdir, constant, ceiling, keep)


def extract_command(source: Source, family: str, features_dir) -> str:
    """The ``extract-features`` command that computes ``family`` for ``source``'s images into ``features_dir``
    (an NSD subject's ``--subject`` becomes ``--subjects``; ``--sessions`` is not an option of extraction)."""
    spec = dict(source.spec())
    subject = spec.pop("subject", None)
    spec.pop("sessions", None)
    words = []
    for name, value in spec.items():
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                words += ["--" + name.replace("_", "-"), str(v)]
    if subject is not None:
        words += ["--subjects", str(subject)]
    return (f"python scripts/extract_features.py --families {family} {' '.join(words)} "
            f"--features-dir {features_dir}")


def _check_images(source: Source, store, groups, ids) -> None:
    """Every image a fit reads is the one its features were extracted from (where the source has its images)."""
    try:
        images = source.images()
    except NoImagesError:
        return
    for g in groups:
        if g in REGISTRY and REGISTRY[g].inputs == "images":
            store.check_images(g, ids, images.read)


def noise_ceiling_selection(source: Source, data, min_nc):
    """Noise-ceiling summary of the source's voxels and, with ``min_nc``, the mask of the voxels kept."""
    n = float(np.mean(data.train_repeats))
    try:
        nc = noise_ceiling(source.ncsnr(), n)
    except DataFileError as exc:
        if min_nc is not None:
            raise
        return {"unavailable": str(exc).splitlines()[0]}, None
    if nc.shape != (data.n_voxels,):
        raise DataFormatError(f"{source}: {nc.size} noise-ceiling values for {data.n_voxels} voxels")
    keep = None if min_nc is None else nc >= min_nc
    if keep is not None and not keep.any():
        raise InputError(f"no voxel has a noise ceiling >= {min_nc}% (max {nc.max():.1f}%)")
    kept = nc if keep is None else nc[keep]
    return {"n_repeats": n, "min_nc": min_nc, "voxels_total": int(nc.size), "voxels_kept": int(kept.size),
            "median_nc_all": float(np.median(nc)), "median_nc_kept": float(np.median(kept))}, keep


def fit_summary(req: FitRequest, inputs: FitInputs, model, r: dict, timer: Timer, alphas) -> dict:
    """``summary.json``: sizes, per-group r and alphas, seconds per stage, the request's settings and the source."""
    t = timer.seconds
    return {
        "label": req.source.label,
        "source": req.source.describe(),
        "n_train": len(inputs.data.train_ids),
        "n_test": len(inputs.data.test_ids),
        "n_voxels": int(inputs.X_train.shape[1]),
        "constant_voxels": inputs.constant,
        "voxel_grid": None if inputs.data.voxel_xyz is None else _grid_digest(inputs.data.voxel_xyz),
        "noise_ceiling": inputs.ceiling,
        "groups": {g: _group_summary(r[g], model.alphas_[g]) for g in req.families},
        "warnings": list(getattr(model, "fit_warnings_", [])),
        "seconds": {"load": t["load"], **{f"fit.{k}": v for k, v in model.seconds_.items()}, "fit": t["fit"],
                    "predict": t["predict"], "write": t["write"]},
        "runs": model.runs_,
        "peak_rss_mb": peak_rss_mb(),
        "config": request_config(req, alphas=req.alphas if req.solver == "fixed" else list(map(float, alphas)),
                                 chunk_size=model.chunk_size,
                                 cv=req.cv if req.solver == "himalaya" else None,
                                 features_dir=str(inputs.features_dir), data=inputs.data.info),
        "outputs": {"model": layout.MODEL, "predictions": layout.PREDICTIONS, "figure": layout.FIT_FIGURE},
        "versions": versions(),
    }


def _group_summary(r: np.ndarray, alphas: np.ndarray) -> dict:
    """One group's line of ``summary.json``: held-out r over the targets it is defined for, and the alphas."""
    undefined = int(np.isnan(r).sum())
    out = {"n_targets": int(r.size), "mean_r": float(np.nanmean(r)) if undefined < r.size else None,
           "alpha_quantiles": np.quantile(alphas, [0, 0.25, 0.5, 0.75, 1]).tolist(), "n_undefined_r": undefined}
    if undefined:
        out["undefined_r_reason"] = (f"{undefined} targets are constant over the test images, or predicted as "
                                     "constant: their correlation is undefined and left out of mean_r")
    return out


def format_fit_summary(summary: dict) -> str:
    """The fit's summary as the table the ``fit`` command prints."""
    lines = [f"{summary['label']}: {summary['n_train']} train, {summary['n_test']} test images, "
             f"{summary['n_voxels']} voxels"]
    nc = summary.get("noise_ceiling") or {}
    if "median_nc_kept" in nc:
        lines.append(f"voxel noise ceiling ({nc['n_repeats']:.1f} repeats): median {nc['median_nc_kept']:.1f}% of "
                     f"variance over {nc['voxels_kept']} of {nc['voxels_total']} voxels")
    lines.append(f"{'group':<16}{'targets':>9}{'mean r':>9}{'median alpha':>14}")
    for g, s in summary["groups"].items():
        r = "n/a" if s["mean_r"] is None else f"{s['mean_r']:.3f}"
        lines.append(f"{g:<16}{s['n_targets']:>9}{r:>9}{s['alpha_quantiles'][2]:>14.3g}")
        if s.get("n_undefined_r"):
            lines.append(f"  ({s['undefined_r_reason']})")
    lines.append(f"{'stage':<16}{'seconds':>9}")
    lines += [f"{k:<16}{v:>9.2f}" for k, v in summary["seconds"].items()]
    runs = summary.get("runs") or []
    if len(runs) > 1:
        lines.append(f"resumed: {len(runs)} runs, " + ", ".join(f"{r['seconds']:.1f} s from chunk "
                                                              f"{r['chunks_done_before'] + 1}" for r in runs))
    lines.append(f"peak RSS {summary['peak_rss_mb']:.0f} MB")
    lines += [f"warning: {w}" for w in summary.get("warnings", [])]
    return "\n".join(lines)
