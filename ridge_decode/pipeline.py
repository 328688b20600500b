"""The stages wired together: each job of the command line is one function here that takes one request.

``extract_features``, ``fit_subject``, ``decode_subject``, ``evaluate_subject`` and ``aggregate_evaluations`` are
what the commands, the demo, transfer and the NSD recipe all call; the commands only parse options, call one of
these and print. Every path comes from :mod:`ridge_decode.layout`; every error a user can fix is a
:class:`ridge_decode.errors.RidgeDecodeError`. ``echo`` in a request is where progress lines go (``print`` by
default, ``click.echo`` from the commands).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import layout
from .errors import DataError, DataFormatError, InputError


class Timer:
    """Wall time of named stages, for a summary table: ``with timer("fit"): ...``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Stage:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[name] = timer.seconds.get(name, 0.0) + time.perf_counter() - self.t0

        return _Stage()


def parse_groups(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``."""
    return [t.strip() for t in text.split(",") if t.strip()]


# ------------------------------------------------------------------------------------------------ features
@dataclass
class ExtractRequest:
    """Which feature families to compute for which images, and where (see ``extract-features --help``)."""

    families: list[str]
    data_root: str | Path | None = None
    input_file: str | Path | None = None
    features_dir: str | Path | None = None
    weights_root: str | Path | None = None
    subjects: list[int] | None = None
    ids: str | None = None  # "all", "a,b,c" or "start:stop"
    device: str = "cpu"
    dtype: str = "float32"
    batch_size: int = 32
    shard: str | None = None
    progress: bool = True


def select_ids(ids_text, stimuli, root, subjects, input_file) -> np.ndarray:
    """The ids to extract: a subset from ``ids_text``, else every image of the input file or the subjects' images."""
    from .nsd import viewed_ids

    if ids_text is None:
        return np.unique(stimuli.ids) if input_file else viewed_ids(root, subjects)
    if ids_text == "all":
        return np.unique(stimuli.ids)
    try:
        if ":" in ids_text:
            a, b = ids_text.split(":")
            return np.arange(int(a), int(b))
        return np.unique([int(v) for v in ids_text.split(",") if v.strip()])
    except ValueError:
        raise InputError(f"--ids takes 'all', 'a,b,c' or 'start:stop'; got {ids_text!r}") from None


def extract_features(req: ExtractRequest) -> dict[str, Path]:
    """Compute each family of ``req`` into the feature cache; returns {family: file written}."""
    from .features import REGISTRY, FeatureStore
    from .features.extract import extract_family, parse_shard
    from .generic import open_images
    from .manifest import resolve_data_root, resolve_weights_root
    from .nsd import Captions, open_stimuli

    unknown = [n for n in req.families if n not in REGISTRY]
    if unknown:
        raise InputError(f"unknown feature families {unknown}; known: {sorted(REGISTRY)}")
    root = None if req.input_file else resolve_data_root(req.data_root)
    wroot = resolve_weights_root(req.weights_root, root if root is not None else Path(req.input_file).parent)
    store = FeatureStore(layout.features_dir(req.features_dir, root, req.input_file))
    stimuli = open_images(req.input_file) if req.input_file else open_stimuli(root)
    ids = select_ids(req.ids, stimuli, root, req.subjects, req.input_file)
    known = set(stimuli.ids.tolist())
    absent = [int(i) for i in ids if int(i) not in known]
    if absent:
        raise DataError(f"{stimuli.path} has no image for ids {absent[:10]}{' ...' if len(absent) > 10 else ''}")
    captions = None
    if root is not None and any(REGISTRY[n].inputs == "captions" for n in req.families):
        captions = Captions(root).read  # the caption files are parsed once, not once per batch
    return {name: extract_family(name, ids, store, read_images=stimuli.read, read_captions=captions,
                                 weights_root=wroot, device=req.device, dtype=req.dtype, batch_size=req.batch_size,
                                 shard=parse_shard(req.shard), progress=req.progress)
            for name in req.families}


def merge_feature_shards(families, features_dir) -> dict[str, Path]:
    """Join each family's shard files into one; returns {family: merged file}."""
    from .features import FeatureStore

    store = FeatureStore(features_dir)
    return {name: store.merge_shards(name) for name in families}


# ---------------------------------------------------------------------------------------------------- fit
@dataclass
class FitRequest:
    """One subject's fit (see ``fit --help``); ``out`` is the folder that receives ``subjNN/``."""

    subject: int = 1
    data_root: str | Path | None = None
    input_file: str | Path | None = None
    targets: list[str] = field(default_factory=lambda: ["pixels"])
    features_dir: str | Path | None = None
    out: str | Path = layout.OUTPUTS
    backend: str = "numpy"
    alphas: np.ndarray | None = None
    alpha_per: str = "target"
    fixed_alpha: float | dict | None = None
    solver: str = "gcv"
    cv: int = 5
    rescale: bool = False
    chunk_size: int | None = None
    sessions: int | None = None
    min_nc: float | None = None
    progress: bool = True
    echo: Callable[[str], None] = print


@dataclass
class FitResult:
    """What a fit wrote and returns: the summary (also ``summary.json``), the data, test predictions and targets."""

    summary: dict
    data: object
    pred: dict[str, np.ndarray]
    y_test: dict[str, np.ndarray]
    folder: Path


def fit_subject(req: FitRequest) -> FitResult:
    """Check, load, fit, predict and write ``<out>/subjNN`` (model, predictions, summary, figure).

    Everything that can be checked before the fit is (the output folder, the data, the targets); then the files
    are written into ``subjNN/.next`` and moved into ``subjNN`` together, so a failed or interrupted run leaves
    the previous run's files as they were. Training targets are read from the feature cache one chunk at a time;
    an interrupted fit resumes from ``subjNN/.next/model.h5.part`` and says so. A missing family that needs no
    weights (``pixels``) is computed on the fly.
    """
    from . import metrics, plots
    from .features import REGISTRY, FeatureStore
    from .generic import load_generic
    from .io import peak_rss_mb, versions, write_json
    from .manifest import resolve_data_root
    from .nsd import load_subject
    from .ridge import DEFAULT_ALPHAS, DEFAULT_CHUNK_SIZE, OneStageRidge

    alphas = DEFAULT_ALPHAS if req.alphas is None else req.alphas
    groups = list(req.targets)
    timer = Timer()
    folder = layout.fit_dir(req.subject, None, req.out)
    with timer("load"):
        root = None if req.input_file else resolve_data_root(req.data_root)
        if req.input_file:
            if req.min_nc is not None:
                raise InputError("--min-nc needs an NSD-layout data root (its ncsnr volume), not --input")
            data, source = load_generic(req.input_file), f"--input {req.input_file}"
        else:
            data = load_subject(req.subject, root, sessions=req.sessions, progress=req.progress)
            source = f"subject {req.subject} under {root}"
        constant = data.check(source)
        if constant:
            req.echo(f"{constant} of {data.n_voxels} voxels are constant over the training images: kept, they are "
                     "centred to zero and contribute nothing")
        fdir = layout.features_dir(req.features_dir, root, req.input_file)
        store = FeatureStore(fdir)
        for g in groups:
            # a family that needs no weights costs seconds: make it now instead of stopping
            if not store.exists(g) and g in REGISTRY and not REGISTRY[g].needs_weights:
                req.echo(f"{g} is not in the feature cache {fdir}: computing it now (it needs no weights)")
                extract_features(ExtractRequest([g], data_root=root, input_file=req.input_file, features_dir=fdir,
                                                progress=req.progress))
            if not store.exists(g):
                where = (f"--input {req.input_file}" if req.input_file
                         else f"--data-root {req.data_root or '<data root>'}")
                raise DataError(f"target group {g!r} is not in the feature cache {fdir}. Compute it with:\n"
                                f"    python scripts/extract_features.py --features {g} {where} --features-dir {fdir}")
        y_train = {g: store.rows(g, data.train_ids) for g in groups}
        y_test = {g: store.read(g, data.test_ids) for g in groups}
        scorable = {g: np.ptp(y.reshape(len(y), -1), axis=0) > 0 for g, y in y_test.items()}
        if not any(m.any() for m in scorable.values()):
            raise DataFormatError(f"every target of {groups} is constant over the {len(data.test_ids)} test images "
                                  f"of {source}: no held-out correlation can be computed")
        X_train, X_test, ceiling, keep = data.train_betas, data.test_betas, None, None
        if not req.input_file:
            ceiling, keep = _noise_ceiling(req.subject, root, data, req.min_nc)
            if keep is not None:
                X_train, X_test = X_train[:, keep], X_test[:, keep]
    staging = folder / layout.STAGING
    model = OneStageRidge(alphas=alphas, alpha_per=req.alpha_per, fixed_alpha=req.fixed_alpha, backend=req.backend,
                          chunk_size=req.chunk_size or DEFAULT_CHUNK_SIZE, path=staging / layout.MODEL,
                          progress=req.progress, solver=req.solver, cv=req.cv)
    with timer("fit"):
        model.fit(X_train, y_train)
    with timer("predict"):
        pred = model.predict(X_test, rescale=req.rescale)
    r = {g: metrics.columnwise_r(pred[g].reshape(len(pred[g]), -1), y_test[g].reshape(len(y_test[g]), -1))
         for g in groups}
    if all(np.isnan(v).all() for v in r.values()):
        raise DataFormatError(f"every held-out r of {groups} is undefined (constant predictions): the fit of "
                              f"{source} learned nothing; its files stay in {staging}")
    with timer("write"):
        layout.Predictions(ids=data.test_ids, pred=pred, r=r, rescaled=req.rescale,
                           selected_voxels=None if keep is None else np.flatnonzero(keep)).save(staging)
        plots.fit_summary(r, model.alphas_, staging / layout.FIT_FIGURE)
    stages = {"load": timer.seconds["load"], **{f"fit.{k}": v for k, v in model.seconds_.items()},
              "fit": timer.seconds["fit"], "predict": timer.seconds["predict"], "write": timer.seconds["write"]}
    summary = {
        "subject": req.subject,
        "n_train": len(data.train_ids),
        "n_test": len(data.test_ids),
        "n_voxels": int(X_train.shape[1]),
        "constant_voxels": constant,
        "noise_ceiling": ceiling,
        "groups": {g: _group_summary(r[g], model.alphas_[g]) for g in groups},
        "seconds": stages,
        "runs": model.runs_,
        "peak_rss_mb": peak_rss_mb(),
        "config": {"targets": groups, "backend": req.backend, "alphas": list(map(float, alphas)),
                   "alpha_per": req.alpha_per, "fixed_alpha": req.fixed_alpha, "solver": req.solver,
                   "cv": req.cv if req.solver == "himalaya" else None,
                   "rescale_with_test_statistics": req.rescale, "chunk_size": model.chunk_size,
                   "sessions": req.sessions, "features_dir": str(fdir), "min_nc": req.min_nc, "data": data.info},
        "outputs": {"model": layout.MODEL, "predictions": layout.PREDICTIONS, "figure": layout.FIT_FIGURE},
        "versions": versions(),
    }
    write_json(staging / layout.SUMMARY, summary)
    layout.commit(staging)
    return FitResult(summary, data, pred, y_test, folder)


def _group_summary(r: np.ndarray, alphas: np.ndarray) -> dict:
    """One group's line of ``summary.json``: held-out r over the targets it is defined for, and the alphas."""
    undefined = int(np.isnan(r).sum())
    out = {"n_targets": int(r.size), "mean_r": float(np.nanmean(r)) if undefined < r.size else None,
           "alpha_quantiles": np.quantile(alphas, [0, 0.25, 0.5, 0.75, 1]).tolist(), "n_undefined_r": undefined}
    if undefined:
        out["undefined_r_reason"] = (f"{undefined} targets are constant over the test images, or predicted as "
                                     "constant: their correlation is undefined and left out of mean_r")
    return out


def _noise_ceiling(subject, root, data, min_nc):
    """Noise-ceiling summary of the subject's voxels and, with ``min_nc``, the mask of the voxels kept."""
    from .errors import DataFileError
    from .nsd import read_noise_ceiling

    n = float(np.mean(data.train_repeats))
    try:
        nc = read_noise_ceiling(subject, root, n_repeats=n)
    except DataFileError as exc:
        if min_nc is not None:
            raise
        return {"unavailable": str(exc).splitlines()[0]}, None
    keep = None if min_nc is None else nc >= min_nc
    if keep is not None and not keep.any():
        raise InputError(f"no voxel has a noise ceiling >= {min_nc}% (max {nc.max():.1f}%)")
    kept = nc if keep is None else nc[keep]
    return {"n_repeats": n, "min_nc": min_nc, "voxels_total": int(nc.size), "voxels_kept": int(kept.size),
            "median_nc_all": float(np.median(nc)), "median_nc_kept": float(np.median(kept))}, keep


def format_fit_summary(summary: dict) -> str:
    """The fit's summary as the table the ``fit`` command prints."""
    lines = [f"subject {summary['subject']}: {summary['n_train']} train, {summary['n_test']} test images, "
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
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- decode
@dataclass
class DecodeRequest:
    """Turn one fit's test predictions into images (see ``decode --help``); sampler knobs as ``SamplerConfig``."""

    subject: int = 1
    data_root: str | Path | None = None
    input_file: str | Path | None = None  # your own data: its images replace the data root's stimuli
    model_dir: str | Path | None = None
    features_dir: str | Path | None = None
    weights_root: str | Path | None = None
    out: str | Path | None = None
    decoder: str = "diffusion"
    ids: list[int] | None = None
    n_images: int | None = None
    batch_size: int = 4
    samples: int = 1
    text: str = "empty"  # or "predicted": the predicted clip_text tokens as the prompt
    device: str = "cpu"
    dtype: str = "float32"
    shard: str | None = None
    sampler: object = None  # a decode.diffusion.SamplerConfig (default: its defaults)
    progress: bool = True


@dataclass
class DecodeResult:
    """Where the images went, how many were decoded and how many were already there."""

    folder: Path
    n_images: int
    n_skipped: int


def decode_subject(req: DecodeRequest) -> DecodeResult:
    """Write ``<out>/<73k id>.png`` per test image (and per sample), ``grid.png`` and ``config.json``; resumable."""
    from tqdm.auto import tqdm

    from . import plots
    from .features.extract import parse_shard, shard_ids
    from .generic import open_images
    from .io import file_signature, versions, write_json
    from .manifest import resolve_data_root
    from .nsd import open_stimuli

    root = Path(req.input_file).parent if req.input_file else resolve_data_root(req.data_root)
    model_dir = layout.fit_dir(req.subject, req.model_dir)
    out = layout.recon_dir(req.subject, req.out)
    pred = layout.Predictions.load(model_dir, req.subject)
    ids = pred.ids
    rows = np.arange(len(ids)) if not req.ids else pred.rows(list(dict.fromkeys(req.ids)))
    if req.n_images is not None:
        rows = rows[: req.n_images]
    rows = shard_ids(rows, parse_shard(req.shard))
    stimuli = open_images(req.input_file) if req.input_file else open_stimuli(root)
    absent = np.setdiff1d(ids[rows], stimuli.ids)
    if len(absent):
        raise DataError(f"{stimuli.path} has no image for {len(absent)} of the predicted test ids, e.g. "
                        f"{absent[:5].tolist()}: decode with the stimuli the fit used")
    size = stimuli.shape[1]
    config = {"subject": req.subject, "decoder": req.decoder, "model_dir": str(model_dir),
              "predictions": file_signature(pred.path), "n_images": len(rows), "samples": req.samples,
              "seed": getattr(req.sampler, "seed", 0), "shard": req.shard, "versions": versions()}
    if req.decoder == "weight-free":
        from .decode import weightfree

        pixels = pred.need("pixels", "the weight-free decoder")

        def make(batch, k):
            return weightfree.pixels_to_images(pixels[batch], size=size)

        config["decoder_name"] = weightfree.NAME
    else:
        make, extra = _diffusion_decoder(req, pred, root, out)
        config.update(extra)
    _same_decode(out, config)
    todo = [r for r in rows if not all((out / layout.recon_name(ids[r], k)).exists() for k in range(req.samples))]
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / layout.DECODE_CONFIG, config)
    bar = tqdm(total=len(todo) * req.samples, desc=f"decode ({req.decoder})", unit="img", disable=not req.progress)
    for a in range(0, len(todo), req.batch_size):
        batch = list(todo[a : a + req.batch_size])
        for k in range(req.samples):
            for r, img in zip(batch, make(batch, k), strict=True):
                layout.save_png(_resize(img, size), out / layout.recon_name(ids[r], k))
            bar.update(len(batch))
    bar.close()
    shown = rows[:10]
    recons = np.stack([layout.load_png(out / layout.recon_name(ids[r])) for r in shown])
    plots.reconstruction_grid(stimuli.read(ids[shown]), recons, ids[shown], out / layout.GRID,
                              title=f"subject {req.subject}: seen (top) and decoded by {req.decoder} (bottom)")
    return DecodeResult(out, len(rows), len(rows) - len(todo))


# what a decode's images depend on: a folder holding images made with other values would mix two runs
DECODE_IDENTITY = ("decoder", "decoder_name", "predictions", "samples", "seed", "steps", "strength", "cfg", "ip_scale",
                   "text", "kappa", "eta", "dtype", "weights_root")


def _same_decode(out: Path, config: dict) -> None:
    """Refuse to add images to ``out`` if its ``config.json`` is of a decode with other inputs or settings."""
    import json

    path = out / layout.DECODE_CONFIG
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text())
    except ValueError:
        raise DataError(f"{path} is not valid JSON: delete {out} or choose another --out") from None
    differ = [k for k in DECODE_IDENTITY if old.get(k) != config.get(k)]
    if differ:
        raise InputError(f"--out {out} holds reconstructions of another decode ({', '.join(differ)} differ from "
                         f"{path}): choose another --out, or delete that folder to decode anew")


def _resize(img, size):
    from PIL import Image

    return img if img.shape[0] == size else np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC))


def _diffusion_decoder(req: DecodeRequest, pred: layout.Predictions, root, out):
    """A ``make(rows, k)`` closure for IP-Adapter SD img2img, and the config entries that describe it."""
    from .decode import diffusion
    from .features import FeatureStore
    from .features.clip_layers import differentiable_features
    from .io import write_json
    from .manifest import resolve_weights_root

    sampler = req.sampler or diffusion.SamplerConfig()
    sampler.check()
    latents = pred.need("autokl", "the img2img starting latent")
    tokens = pred.need("ipadapter_plus", "the IP-Adapter tokens")
    text_pred = pred.need("clip_text", "--text predicted") if req.text == "predicted" else None
    clip_pred = pred.need("clip_layers", "guidance, --kappa > 0") if sampler.kappa > 0 else None
    store = FeatureStore(layout.features_dir(req.features_dir, None if req.input_file else root, req.input_file))
    negative = store.extra("ipadapter_plus", "negative")
    wroot = resolve_weights_root(req.weights_root, root)
    pipe = diffusion.load_pipeline(wroot, device=req.device, dtype=req.dtype)
    feature_fn = None
    if sampler.kappa > 0:
        from .features.clip_layers import ClipLayers

        clip = ClipLayers(wroot, device=req.device, dtype=req.dtype).model
        feature_fn = lambda images: differentiable_features(clip, images)  # noqa: E731
    log: list = []

    def guidance(rows):
        return None if clip_pred is None else diffusion.Guidance(clip_pred[rows], feature_fn, log)

    def rows_of(array, rows):
        return None if array is None else array[rows]

    def make(rows, k):
        images = diffusion.decode_batch(pipe, latents[rows], tokens[rows], negative, sampler, pred.ids[rows],
                                        sample_index=k, text_embeds=rows_of(text_pred, rows),
                                        guidance=guidance(rows))
        if log:
            write_json(out / layout.GUIDANCE_LOG, log)
        return images

    extra = {"decoder_name": diffusion.NAME, "steps": sampler.steps, "strength": sampler.strength, "cfg": sampler.cfg,
             "ip_scale": sampler.ip_scale, "text": req.text, "kappa": sampler.kappa, "eta": sampler.eta,
             "device": req.device, "dtype": req.dtype, "weights_root": str(wroot),
             "negative_tokens": str(store.path("ipadapter_plus"))}
    return make, extra


# ----------------------------------------------------------------------------------------------- evaluate
@dataclass
class EvaluateRequest:
    """Score one subject's reconstructions (see ``evaluate --help``)."""

    subject: int = 1
    data_root: str | Path | None = None
    input_file: str | Path | None = None  # your own data: its test ids and images are the ground truth
    recon_dir: str | Path | None = None
    model_dir: str | Path | None = None
    features_dir: str | Path | None = None
    weights_root: str | Path | None = None
    out: str | Path | None = None
    convention: str = "mindeye"
    batch_size: int = 32
    rank_by: str = "pixcorr"
    partial: bool = False
    progress: bool = True


def evaluate_subject(req: EvaluateRequest) -> tuple[dict, Path]:
    """The eight metrics of a subject's reconstructions: ``metrics.json``, ``per_image.json``, ``report.md`` and
    the best/median/worst figure; returns (metrics.json's content, the folder)."""
    import json

    from . import evaluate as ev
    from . import plots
    from .generic import open_images, read_test_ids
    from .io import atomic_path, versions, write_json
    from .manifest import resolve_data_root, resolve_weights_root
    from .nsd import load_subject, open_stimuli

    root = Path(req.input_file).parent if req.input_file else resolve_data_root(req.data_root)
    recon = layout.recon_dir(req.subject, req.recon_dir, option="--recon-dir")
    out = layout.eval_dir(req.subject, req.out)
    if req.input_file:
        images = open_images(req.input_file)
        test_ids = read_test_ids(req.input_file)
    else:
        images = open_stimuli(root)
        test_ids = load_subject(req.subject, root, progress=False).test_ids
    ids, recons = layout.read_reconstructions(recon, test_ids, partial=req.partial)
    stimuli = images.read(ids)
    scores, per_image = ev.image_metrics(stimuli, recons, resolve_weights_root(req.weights_root, root),
                                         convention=req.convention, batch_size=req.batch_size,
                                         progress=req.progress)
    result = {"subject": req.subject, "n_images": int(len(ids)), "convention": req.convention,
              "recon_dir": str(recon), "ground_truth": str(images.path), "metrics": scores}
    decoder_config = recon / layout.DECODE_CONFIG
    if decoder_config.exists():
        result["decoder"] = json.loads(decoder_config.read_text()).get("decoder_name")
    if req.model_dir:
        fdir = layout.features_dir(req.features_dir, None if req.input_file else root, req.input_file)
        result["embedding"] = embedding_scores(Path(req.model_dir), fdir, ids)
    result["versions"] = versions()
    # written beside the folder, then moved in together: a failure leaves the previous evaluation whole
    staging = out / layout.STAGING
    write_json(staging / layout.METRICS, result)
    write_json(staging / layout.PER_IMAGE, {"ids": ids, **per_image})
    name = f"ridge_decode (subject {req.subject}, {result.get('decoder') or 'unknown decoder'}, {len(ids)} images)"
    with atomic_path(staging / layout.REPORT) as tmp:
        tmp.write_text(ev.report({name: scores}, f"Reconstruction metrics, subject {req.subject}",
                                 note=f"Resizing convention: {req.convention}."))
    names = [layout.METRICS, layout.PER_IMAGE, layout.REPORT]
    if req.rank_by in per_image:
        plots.ranked_reconstructions(stimuli, recons, ids, per_image[req.rank_by], req.rank_by,
                                     ev.HIGHER_IS_BETTER[req.rank_by], staging / layout.RANKED)
        names.insert(0, layout.RANKED)
    layout.commit(staging, names)
    return result, out


def embedding_scores(model_dir: Path, features_dir: Path, ids) -> dict:
    """Embedding-level scores of each predicted group whose true features are cached."""
    from . import evaluate as ev
    from .features import FeatureStore

    store = FeatureStore(features_dir)
    pred = layout.Predictions.load(model_dir)
    rows = pred.rows(ids)
    out = {}
    for g, p in pred.pred.items():
        if not store.exists(g):
            out[g] = {"unavailable": f"{store.path(g)} is missing"}
            continue
        out[g] = ev.embedding_scores(p[rows], store.read(g, ids))
    return out


def aggregate_evaluations(dirs, out: str | Path | None = None) -> Path:
    """Average the ``metrics.json`` of ``dirs`` (one per subject) into ``<out>/metrics.json`` and ``report.md``."""
    import json

    from . import evaluate as ev
    from .errors import DataFileError
    from .io import versions, write_json

    if not dirs:
        raise InputError("--aggregate needs the evaluation folders, e.g. eval/subj01 eval/subj02")
    results = []
    for d in dirs:
        path = Path(d) / layout.METRICS
        if not path.exists():
            raise DataFileError(f"{path} is missing: run scripts/evaluate.py for that subject first")
        results.append(json.loads(path.read_text()))
    out = Path(out or layout.EVAL / "mean")
    mean = ev.aggregate(results)
    subjects = [r.get("subject") for r in results]
    write_json(out / layout.METRICS, {"aggregate_of": [str(d) for d in dirs], "subjects": subjects, "metrics": mean,
                                      "versions": versions()})
    (out / layout.REPORT).write_text(ev.report({f"ridge_decode (mean of subjects {subjects})": mean},
                                               "Reconstruction metrics, averaged over subjects"))
    return out


# --------------------------------------------------------------------------------------------------- demo
@dataclass
class DemoRequest:
    """The main job on the synthetic subject (see ``demo --help``)."""

    data_root: str | Path = "data/synthetic"
    out: str | Path = "results"
    seed: int = 0
    n_show: int = 20
    echo: Callable[[str], None] = print


def run_demo(req: DemoRequest) -> dict:
    """Simulate if absent, fit voxels -> pixels, decode weight-free, score; writes ``scores.json`` and a figure."""
    from . import metrics, plots
    from .check import check_data
    from .decode import weightfree
    from .io import versions, write_json
    from .nsd import open_stimuli
    from .simulate import simulate

    t0 = time.perf_counter()
    root, out = Path(req.data_root), Path(req.out)
    if not (root / "synthetic.json").exists():
        req.echo(f"simulating the synthetic subjects under {root} ...")
        simulate(root, size="small", subjects=(1, 2), seed=req.seed)
    bad = [r for r in check_data(root, (1,)) if r.status != "present"]
    if bad:
        raise DataError(f"{root} is incomplete: {[(r.key, r.status, r.detail) for r in bad]}")
    fit = fit_subject(FitRequest(1, root, targets=["pixels"], out=out / "model", echo=req.echo))
    req.echo(format_fit_summary(fit.summary))
    recon = weightfree.pixels_to_images(fit.pred["pixels"])
    truth = weightfree.pixels_to_images(fit.y_test["pixels"])
    per_image_r = metrics.columnwise_r(recon.reshape(len(recon), -1).T.astype(float),
                                       truth.reshape(len(truth), -1).T.astype(float))
    test_ids = fit.data.test_ids
    stimuli = open_stimuli(root).read(test_ids[: req.n_show])
    shown = weightfree.pixels_to_images(fit.pred["pixels"][: req.n_show], size=stimuli.shape[1])
    fig = plots.reconstruction_grid(stimuli, shown, test_ids[: req.n_show], out / "reconstructions.png",
                                    title="synthetic subject 1: held-out stimuli (top) and ridge reconstructions "
                                          "from voxels -> 32x32 pixels (bottom)", scores=per_image_r[: req.n_show])
    rng = np.random.default_rng(0)
    scores = {
        "decoder": weightfree.NAME,
        "n_test": int(len(test_ids)),
        "mean_r_per_target": fit.summary["groups"]["pixels"]["mean_r"],
        "pixcorr": metrics.pixcorr(recon.astype(float), truth.astype(float)),
        "two_way_identification_pixels": metrics.two_way_identification(truth, recon),
        "two_way_identification_shuffled": metrics.two_way_identification(truth, recon[rng.permutation(len(recon))]),
        "note": "held-out shared1000-style test images of synthetic subject 1; pixels at 32x32, compared with "
                "the downsampled stimuli; shuffled = reconstructions paired with random stimuli (chance ~0.5)",
        "seconds_total": time.perf_counter() - t0,
        "fit_summary": fit.summary,
        "versions": versions(),
    }
    write_json(out / "scores.json", scores)
    scores["figure"] = fig
    return scores


# ----------------------------------------------------------------------------------------------- transfer
# transfer: the new subject's layer in the reference's space; scratch: the package's per-target ridge on the new
# subject alone; scratch_principal: the new subject alone, a ridge into every principal direction of its own targets
# with alpha per direction, the same kind of model as transfer, so that transfer - scratch_principal is what the
# reference brings and scratch_principal - scratch what choosing alpha per direction of target space brings.
TRANSFER_METHODS = ("transfer", "scratch", "scratch_principal")


@dataclass
class TransferRequest:
    """A new subject's output layer on a reference's frozen shared space, against scratch (see ``transfer --help``)."""

    data_root: str | Path | None = None
    reference: int = 1
    subject: int = 2
    targets: list[str] = field(default_factory=lambda: ["pixels"])
    features_dir: str | Path | None = None
    reference_dir: str | Path | None = None
    fractions: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.25, 0.5, 1.0])
    rank: int = 64
    alphas: np.ndarray | None = None
    seed: int = 0
    out: str | Path = layout.OUTPUTS
    json_path: str | Path | None = None
    echo: Callable[[str], None] = print


def run_transfer(req: TransferRequest) -> tuple[Path, Path]:
    """Fit the reference if needed, freeze its shared space, fit the new subject at each training fraction with
    each of ``TRANSFER_METHODS``; returns (the JSON, the figure)."""
    import importlib.util
    import json

    from . import evaluate as ev
    from . import metrics, plots
    from .features import FeatureStore
    from .io import versions, write_json
    from .manifest import resolve_data_root
    from .nsd import load_subject
    from .ridge import DEFAULT_ALPHAS, OneStageRidge
    from .transfer import PrincipalRidge, SharedSpace, TransferRidge

    if importlib.util.find_spec("torch"):  # the eigensolver imports it: let no timed fit pay for that
        import torch  # noqa: F401

    if any(not 0 < f <= 1 for f in req.fractions):
        raise InputError(f"--train-fraction values must be in (0, 1]; got {req.fractions}")
    root = resolve_data_root(req.data_root)
    groups, grid = list(req.targets), DEFAULT_ALPHAS if req.alphas is None else req.alphas
    ref_dir = layout.fit_dir(req.reference, req.reference_dir, req.out)
    store = FeatureStore(layout.features_dir(req.features_dir, root))
    t0 = time.perf_counter()
    if (ref_dir / layout.MODEL).exists():
        ref_model = OneStageRidge.load(ref_dir / layout.MODEL)
        missing = [g for g in groups if g not in ref_model.groups_]
        if missing:
            raise DataError(f"the reference model {ref_dir / layout.MODEL} has groups {ref_model.groups_}, not "
                            f"{missing}; refit it with --targets {','.join(groups)} or pass another --reference-dir")
    else:
        fit_subject(FitRequest(req.reference, root, targets=groups, features_dir=req.features_dir,
                               out=ref_dir.parent, alphas=grid, echo=req.echo))
        ref_model = OneStageRidge.load(ref_dir / layout.MODEL)
    ref_fit_seconds = time.perf_counter() - t0
    ref_data = load_subject(req.reference, root, progress=False)
    t0 = time.perf_counter()
    shared = SharedSpace.from_reference(ref_model, ref_data.train_betas, rank=req.rank, groups=groups, seed=req.seed,
                                        info={"reference": req.reference})
    shared_seconds = time.perf_counter() - t0
    new = load_subject(req.subject, root, progress=False)
    y_test = {g: store.read(g, new.test_ids) for g in groups}
    order = np.random.default_rng(req.seed).permutation(len(new.train_ids))
    results = []
    for frac in req.fractions:
        rows = np.sort(order[: max(2, int(round(frac * len(order))))])
        X = new.train_betas[rows]
        y_train = {g: store.read(g, new.train_ids[rows]) for g in groups}
        for method in TRANSFER_METHODS:
            t0 = time.perf_counter()
            if method == "transfer":
                model = TransferRidge(shared, alphas=grid).fit(X, y_train)
            elif method == "scratch_principal":
                model = PrincipalRidge(alphas=grid).fit(X, y_train)
            else:
                model = OneStageRidge(alphas=grid).fit(X, y_train)
            seconds = time.perf_counter() - t0
            pred = model.predict(new.test_betas)
            per_group, all_r = {}, []
            for g in groups:
                r = metrics.columnwise_r(pred[g], y_test[g])
                emb = ev.embedding_scores(pred[g], y_test[g])
                per_group[g] = {"mean_r": float(np.nanmean(r)), "retrieval_top1": emb["retrieval_top1"]}
                all_r.append(r)
            results.append({"fraction": frac, "n_train": int(len(rows)), "method": method,
                            "mean_r": float(np.nanmean(np.concatenate(all_r))), "groups": per_group,
                            "seconds": seconds})
            req.echo(f"{method:<17} fraction {frac:<5} ({len(rows):>5} images): mean r {results[-1]['mean_r']:.3f}, "
                     f"{seconds:.2f} s")
    name = f"transfer_subj{req.subject:02d}_from_subj{req.reference:02d}.json"
    json_path = Path(req.json_path or Path(req.out) / name)
    summary = ref_dir / layout.SUMMARY
    payload = {"results": results,
               "reference": {"subject": req.reference, "model": str(ref_dir / layout.MODEL),
                             "load_or_fit_seconds": ref_fit_seconds, "shared_space_seconds": shared_seconds,
                             "fit_seconds": json.loads(summary.read_text())["seconds"].get("fit")
                             if summary.exists() else None, **shared.info_},
               "config": {"subject": req.subject, "targets": groups, "fractions": req.fractions, "rank": req.rank,
                          "alphas": list(map(float, grid)), "seed": req.seed, "data_root": str(root)},
               "versions": versions()}
    write_json(json_path, payload)
    fig = plots.transfer_curves(results, json_path.with_suffix(".png"),
                                title=f"subject {req.subject} from reference {req.reference} (rank {req.rank})")
    return json_path, fig
