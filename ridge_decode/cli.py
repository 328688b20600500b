"""Command-line entry points: ``ridge-decode COMMAND`` and the thin ``scripts/*.py`` wrappers.

This is the one place where the stages (data, features, ridge, decode, metrics) are wired together. Heavy
imports happen inside the commands so that ``--help`` is instant.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

SUBJECT_HELP = "NSD subject number, 1..8."
DATA_ROOT_HELP = "NSD (or synthetic) root; default $RIDGE_DECODE_DATA, else the manifest's data_root_default."


class _Timer:
    """Wall time of named stages, for the summary table."""

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


def _parse_ints(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None


@click.group()
@click.version_option(package_name="ridge_decode")
def main():
    """ridge_decode: reconstruct seen images from fMRI with ridge regression."""


# ----------------------------------------------------------------------------------------------- simulate
@main.command()
@click.option("--out", default="data/synthetic", show_default=True, type=click.Path(file_okay=False))
@click.option("--size", type=click.Choice(["small", "nsd", "tiny"]), default="small", show_default=True,
              help="small: ~1,350 training images and a few thousand voxels; nsd: NSD's shapes, for benchmarks.")
@click.option("--subjects", default="1,2", show_default=True, help="Comma-separated subject numbers.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--sessions", type=int, default=None, help="Override the number of sessions (750 trials each).")
@click.option("--betas-format", default="hdf5", show_default=True, help="hdf5, nifti or hdf5,nifti.")
@click.option("--image-size", default=128, show_default=True, type=int, help="Stimulus size in pixels.")
def simulate(out, size, subjects, seed, sessions, betas_format, image_size):
    """Write a synthetic subject in the NSD file layout, from real photographs and a known encoding model."""
    from .simulate import simulate as run

    t0 = time.perf_counter()
    formats = tuple(f.strip() for f in betas_format.split(","))
    path = run(out, size=size, subjects=_parse_ints(subjects), seed=seed, sessions=sessions,
               betas_formats=formats, image_size=image_size)
    click.echo(f"synthetic NSD layout written under {path} in {time.perf_counter() - t0:.1f} s")


# --------------------------------------------------------------------------------------------- check-data
@main.command("check-data")
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP)
@click.option("--subject", "subjects", default="1", show_default=True, help="Comma-separated subjects.")
@click.option("--strict", is_flag=True, help="Enforce NSD's exact sizes (grids, voxels, sessions, 425 px).")
@click.option("--weights", is_flag=True, help="Let missing or bad model weights count toward the exit code.")
@click.option("--weights-root", type=click.Path(), default=None,
              help="Default $RIDGE_DECODE_WEIGHTS or <root>/weights.")
def check_data(data_root, subjects, strict, weights, weights_root):
    """Report each manifest entry as present, missing or bad; exit 0 only if every NSD entry is present."""
    from .check import check_data as run
    from .check import format_table
    from .manifest import resolve_data_root, resolve_weights_root

    root = resolve_data_root(data_root)
    results = run(root, _parse_ints(subjects), strict=strict,
                  weights_root=resolve_weights_root(weights_root, root))
    click.echo(f"data root: {root}{'  (strict: NSD sizes enforced)' if strict else ''}")
    click.echo(format_table(results))
    failing = [r for r in results if r.status != "present" and (r.kind == "nsd" or weights)]
    sys.exit(1 if failing else 0)


# ---------------------------------------------------------------------------------------------- fetch-nsd
@main.command("fetch-nsd")
@click.option("--subject", type=int, required=True, help=SUBJECT_HELP)
@click.option("--dest", type=click.Path(file_okay=False), default=None, help=DATA_ROOT_HELP)
@click.option("--sessions", type=int, default=None, help="First N sessions only (default: all).")
@click.option("--betas-format", type=click.Choice(["hdf5", "nifti"]), default="hdf5", show_default=True)
@click.option("--source", default=None, help="Source root URL (default: the manifest's s3 bucket).")
@click.option("--dry-run", is_flag=True, help="List the files and sizes, fetch nothing.")
def fetch_nsd(subject, dest, sessions, betas_format, source, dry_run):
    """Download exactly the files one subject needs, resumably (NSD data agreement required)."""
    from .fetch import fetch, format_plan, plan
    from .manifest import resolve_data_root

    items = plan(subject, sessions, betas_format)
    click.echo(format_plan(items))
    if dry_run:
        return
    dest = resolve_data_root(dest)
    paths = fetch(items, dest, source)
    click.echo(f"{len(paths)} files under {dest}")


# ---------------------------------------------------------------------------------------- extract-features
@main.command("extract-features")
@click.option("--features", "names", default="pixels", show_default=True,
              help="Comma-separated families: ipadapter_plus,autokl,clip_text,clip_layers,pixels.")
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP)
@click.option("--input", "input_file", type=click.Path(), default=None,
              help="Your own data file (its images), instead of --data-root.")
@click.option("--features-dir", type=click.Path(), default=None,
              help="Default <data root>/features (or features/ beside --input).")
@click.option("--weights-root", type=click.Path(), default=None,
              help="Default $RIDGE_DECODE_WEIGHTS or <data root>/weights.")
@click.option("--subjects", default=None, help="Images of these subjects (default: every subject with betas).")
@click.option("--ids", "ids_text", default=None,
              help="A subset instead: 'all' (every image in the stimuli file), 'a,b,c' or 'start:stop' (0-based).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--batch-size", default=32, show_default=True, type=int)
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True,
              help="Stored dtype (models run in float16 only on CUDA).")
@click.option("--shard", default=None, help="i/N: compute only the i-th of N contiguous parts of the ids.")
@click.option("--merge", is_flag=True, help="Join the shard files of each family into one, checking every id.")
@click.option("--list", "list_only", is_flag=True, help="List the families, their shapes and whether weights exist.")
def extract_features(names, data_root, input_file, features_dir, weights_root, subjects, ids_text, device,
                     batch_size, dtype, shard, merge, list_only):
    """Compute feature families for the stimuli and cache them by 73k id (resumable, shardable)."""
    from .features import REGISTRY, FeatureStore
    from .manifest import DataFileError, DataFormatError, resolve_data_root, resolve_weights_root

    root = None if input_file else resolve_data_root(data_root)
    wroot = resolve_weights_root(weights_root, root if root is not None else Path(input_file).parent)
    if list_only:
        click.echo(_list_families(wroot))
        return
    families = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in families if n not in REGISTRY]
    if unknown:
        raise click.BadParameter(f"unknown feature families {unknown}; known: {sorted(REGISTRY)}")
    store = FeatureStore(features_dir or _default_features_dir(root, input_file))
    try:
        for name in families:
            if merge:
                click.echo(f"{name}: merged into {store.merge_shards(name)}")
                continue
            path = _extract(name, root, store, _parse_ints(subjects) if subjects else None, ids_text,
                            input_file=input_file, weights_root=wroot, device=device, dtype=dtype,
                            batch_size=batch_size, shard=shard)
            click.echo(f"{name}: {path}")
    except (DataFileError, DataFormatError, KeyError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc


def _list_families(weights_root) -> str:
    from .features import REGISTRY
    from .manifest import entry_path

    lines = [f"weights root: {weights_root}"]
    for f in REGISTRY.values():
        if f.weights:
            missing = [k for k in f.weights if not entry_path(k, weights_root).exists()]
            state = "weights present" if not missing else f"weights missing: {', '.join(missing)}"
        else:
            state = "no weights needed"
        lines.append(f"{f.name:<16}{'x'.join(map(str, f.shape)):<14}{state:<40}{f.description}")
    return "\n".join(lines)


def _default_features_dir(root, input_file):
    return Path(input_file).parent / "features" if input_file else Path(root) / "features"


def _select_ids(ids_text, stimuli, root, subjects, input_file):
    """The ids to extract: a subset from ``--ids``, else every image of the input file or the subjects' images."""
    import numpy as np

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
        raise click.BadParameter(f"--ids takes 'all', 'a,b,c' or 'start:stop'; got {ids_text!r}") from None


def _extract(name, root, store, subjects, ids_text=None, *, input_file=None, weights_root=None, device="cpu",
             dtype="float32", batch_size=32, shard=None, progress=True):
    from .features.extract import extract_family, parse_shard
    from .nsd import open_stimuli, read_captions

    stimuli = open_stimuli(root, input_file)
    ids = _select_ids(ids_text, stimuli, root, subjects, input_file)
    known = set(stimuli.ids.tolist())
    absent = [int(i) for i in ids if int(i) not in known]
    if absent:
        raise KeyError(f"{stimuli.path} has no image for ids {absent[:10]}{' ...' if len(absent) > 10 else ''}")
    captions = None if input_file else (lambda batch: read_captions(batch, root))
    return extract_family(name, ids, store, read_images=stimuli.read, read_captions=captions,
                          weights_root=weights_root, device=device, dtype=dtype, batch_size=batch_size,
                          shard=parse_shard(shard), progress=progress)


# --------------------------------------------------------------------------------------------------- fit
def _fit_subject(subject, data_root, input_file, targets, features_dir, out, *, backend="numpy", alphas=None,
                 alpha_per="target", fixed_alpha=None, rescale=False, sessions=None, chunk_size=None,
                 min_nc=None, progress=True):
    """Load, fit, predict and write ``<out>/subjNN``; returns the summary dict, the data and test predictions.

    Training targets are read from the feature cache one chunk at a time; the model goes to ``model.h5``
    chunk by chunk, and an interrupted fit resumes from its ``model.h5.part``.
    """
    import h5py
    import numpy as np

    from . import metrics, plots
    from .features import FeatureStore
    from .io import atomic_path, peak_rss_mb, versions, write_json
    from .manifest import resolve_data_root
    from .nsd import load_generic, load_subject
    from .ridge import DEFAULT_ALPHAS, DEFAULT_CHUNK_SIZE, OneStageRidge

    alphas = DEFAULT_ALPHAS if alphas is None else alphas
    timer = _Timer()
    with timer("load"):
        root = resolve_data_root(data_root)
        if input_file:
            data = load_generic(input_file)
        else:
            data = load_subject(subject, root, sessions=sessions, progress=progress)
        fdir = Path(features_dir or _default_features_dir(root, input_file))
        store = FeatureStore(fdir)
        groups = [t.strip() for t in targets.split(",") if t.strip()]
        for g in groups:
            if not store.exists(g):
                raise click.ClickException(
                    f"target group {g!r} is not in the feature cache {fdir}. Compute it with:\n"
                    f"    python scripts/extract_features.py --features {g} "
                    + (f"--input {input_file}" if input_file else f"--data-root {data_root or '<data root>'}")
                    + f" --features-dir {fdir}")
        y_train = {g: store.rows(g, data.train_ids) for g in groups}
        y_test = {g: store.read(g, data.test_ids) for g in groups}
        X_train, X_test, ceiling, keep = data.train_betas, data.test_betas, None, None
        if min_nc is not None or not input_file:
            ceiling, keep = _noise_ceiling(subject, root, data, min_nc, input_file)
            if keep is not None:
                X_train, X_test = X_train[:, keep], X_test[:, keep]
    sub_dir = Path(out) / f"subj{subject:02d}"
    model = OneStageRidge(alphas=alphas, alpha_per=alpha_per, fixed_alpha=fixed_alpha, backend=backend,
                          chunk_size=chunk_size or DEFAULT_CHUNK_SIZE, path=sub_dir / "model.h5", progress=progress)
    with timer("fit"):
        model.fit(X_train, y_train)
    with timer("predict"):
        pred = model.predict(X_test, rescale=rescale)
    r = {g: metrics.columnwise_r(pred[g].reshape(len(pred[g]), -1), y_test[g].reshape(len(y_test[g]), -1))
         for g in groups}
    with timer("write"):
        with atomic_path(sub_dir / "predictions.h5") as tmp, h5py.File(tmp, "w") as f:
            f["ids"] = data.test_ids
            f.attrs["rescaled_with_test_statistics"] = bool(rescale)
            if keep is not None:
                f["selected_voxels"] = np.flatnonzero(keep)
            for g in groups:
                f[f"pred/{g}"], f[f"r/{g}"] = pred[g], r[g]
        plots.fit_summary(r, model.alphas_, sub_dir / "fit_summary.png")
    stages = {"load": timer.seconds["load"], **{f"fit.{k}": v for k, v in model.seconds_.items()},
              "fit": timer.seconds["fit"], "predict": timer.seconds["predict"], "write": timer.seconds["write"]}
    summary = {
        "subject": subject,
        "n_train": len(data.train_ids),
        "n_test": len(data.test_ids),
        "n_voxels": int(X_train.shape[1]),
        "noise_ceiling": ceiling,
        "groups": {
            g: {"n_targets": int(r[g].size), "mean_r": float(np.nanmean(r[g])),
                "alpha_quantiles": np.quantile(model.alphas_[g], [0, 0.25, 0.5, 0.75, 1]).tolist()}
            for g in groups
        },
        "seconds": stages,
        "peak_rss_mb": peak_rss_mb(),
        "config": {"targets": groups, "backend": backend, "alphas": list(map(float, alphas)),
                   "alpha_per": alpha_per, "fixed_alpha": fixed_alpha, "rescale_with_test_statistics": rescale,
                   "chunk_size": model.chunk_size, "sessions": sessions, "features_dir": str(fdir),
                   "min_nc": min_nc,
                   "data": data.info},
        "outputs": {"model": "model.h5", "predictions": "predictions.h5", "figure": "fit_summary.png"},
        "versions": versions(),
    }
    write_json(sub_dir / "summary.json", summary)
    return summary, data, pred, y_test


def _noise_ceiling(subject, root, data, min_nc, input_file):
    """Noise-ceiling summary of the subject's voxels and, with ``min_nc``, the mask of the voxels kept."""
    import numpy as np

    from .manifest import DataFileError
    from .nsd import read_noise_ceiling

    if input_file:
        raise click.ClickException("--min-nc needs an NSD-layout data root (its ncsnr volume), not --input")
    n = float(np.mean(data.train_repeats))
    try:
        nc = read_noise_ceiling(subject, root, n_repeats=n)
    except DataFileError as exc:
        if min_nc is not None:
            raise
        return {"unavailable": str(exc).splitlines()[0]}, None
    keep = None if min_nc is None else nc >= min_nc
    if keep is not None and not keep.any():
        raise click.ClickException(f"no voxel has a noise ceiling >= {min_nc}% (max {nc.max():.1f}%)")
    kept = nc if keep is None else nc[keep]
    return {"n_repeats": n, "min_nc": min_nc, "voxels_total": int(nc.size), "voxels_kept": int(kept.size),
            "median_nc_all": float(np.median(nc)), "median_nc_kept": float(np.median(kept))}, keep


def _print_summary(summary):
    click.echo(f"subject {summary['subject']}: {summary['n_train']} train, {summary['n_test']} test images, "
               f"{summary['n_voxels']} voxels")
    nc = summary.get("noise_ceiling") or {}
    if "median_nc_kept" in nc:
        click.echo(f"voxel noise ceiling ({nc['n_repeats']:.1f} repeats): median {nc['median_nc_kept']:.1f}% of "
                   f"variance over {nc['voxels_kept']} of {nc['voxels_total']} voxels")
    click.echo(f"{'group':<16}{'targets':>9}{'mean r':>9}{'median alpha':>14}")
    for g, s in summary["groups"].items():
        click.echo(f"{g:<16}{s['n_targets']:>9}{s['mean_r']:>9.3f}{s['alpha_quantiles'][2]:>14.3g}")
    click.echo(f"{'stage':<16}{'seconds':>9}")
    for k, v in summary["seconds"].items():
        click.echo(f"{k:<16}{v:>9.2f}")
    click.echo(f"peak RSS {summary['peak_rss_mb']:.0f} MB")


def _alphas(text):
    import numpy as np

    if text is None:
        from .ridge import DEFAULT_ALPHAS

        return DEFAULT_ALPHAS
    try:
        if ":" in text:  # lo:hi:n as powers of ten
            lo, hi, n = text.split(":")
            return np.logspace(float(lo), float(hi), int(n))
        return np.array([float(a) for a in text.split(",")])
    except ValueError:
        raise click.BadParameter(f"--alphas takes 'a,b,c' or 'lo:hi:n' (log10); got {text!r}") from None


def _fixed_alpha(text):
    """``--fixed-alpha``: one number for every group, or ``group=alpha,...``."""
    if text is None:
        return None
    try:
        if "=" not in text:
            return float(text)
        pairs = [item.split("=") for item in text.split(",") if item.strip()]
        return {g.strip(): float(a) for g, a in pairs}
    except ValueError:
        raise click.BadParameter(f"--fixed-alpha takes a number or 'group=alpha,...'; got {text!r}") from None


@main.command()
@click.option("--subject", type=int, default=1, show_default=True, help=SUBJECT_HELP)
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP)
@click.option("--input", "input_file", type=click.Path(), default=None,
              help="Your own data: one HDF5 file (see docs/data.md) instead of --data-root.")
@click.option("--targets", default="pixels", show_default=True, help="Comma-separated cached feature families.")
@click.option("--features-dir", type=click.Path(), default=None, help="Default <data root>/features.")
@click.option("--backend", type=click.Choice(["numpy", "torch", "torch_cuda"]), default="numpy", show_default=True)
@click.option("--alphas", default=None, help="Grid, 'a,b,c' or 'lo:hi:n' in log10 (default 0:8:20).")
@click.option("--alpha-per", type=click.Choice(["target", "group"]), default="target", show_default=True)
@click.option("--fixed-alpha", default=None,
              help="Brain-Diffuser baseline: no choice, one alpha ('5e4') or per group ('autokl=5e4,clip_text=1e5').")
@click.option("--rescale", is_flag=True,
              help="Brain-Diffuser's rescaling of the test predictions by their own (test-set) statistics.")
@click.option("--chunk-size", type=int, default=None, help="Targets per chunk (default 4096); bounds memory.")
@click.option("--sessions", type=int, default=None, help="First N sessions (default: all available).")
@click.option("--min-nc", type=float, default=None,
              help="Keep only voxels whose noise ceiling (percent, for the averaged repeats) is at least this.")
@click.option("--out", type=click.Path(file_okay=False), default="outputs", show_default=True)
def fit(subject, data_root, input_file, targets, features_dir, backend, alphas, alpha_per, fixed_alpha, rescale,
        chunk_size, sessions, min_nc, out):
    """Fit the one-stage ridge from a subject's voxels to cached target groups; write outputs/subjNN."""
    from .manifest import DataFileError, DataFormatError

    try:
        summary, *_ = _fit_subject(subject, data_root, input_file, targets, features_dir, out, backend=backend,
                                   alphas=_alphas(alphas), alpha_per=alpha_per, fixed_alpha=_fixed_alpha(fixed_alpha),
                                   rescale=rescale, sessions=sessions, chunk_size=chunk_size, min_nc=min_nc)
    except (DataFileError, DataFormatError, KeyError) as exc:  # KeyError: an image id missing from a feature file
        raise click.ClickException(str(exc).strip('"')) from exc
    _print_summary(summary)
    click.echo(f"written: {Path(out) / f'subj{subject:02d}'}")


# ------------------------------------------------------------------------------------------------- decode
def _read_predictions(model_dir: Path, subject: int):
    """ids (n,), {group: h5py dataset (n, ...)}, the path and the open file of ``<model dir>/predictions.h5``."""
    import h5py

    path = model_dir / "predictions.h5"
    if not path.exists():
        raise click.ClickException(
            f"no predictions at {path}. Fit first, e.g.:\n    python scripts/fit.py --subject {subject} "
            f"--targets <groups> --out {model_dir.parent}")
    f = h5py.File(path, "r")  # kept open while decoding: predictions are read a batch at a time
    return f["ids"][()], {g: f[f"pred/{g}"] for g in f["pred"]}, path, f


def _need(pred: dict, group: str, path: Path, why: str):
    if group not in pred:
        raise click.ClickException(f"{path} has no predictions for {group!r} ({why}); it has {sorted(pred)}. "
                                   f"Refit with --targets including {group}.")
    return pred[group]


@main.command()
@click.option("--subject", type=int, default=1, show_default=True, help=SUBJECT_HELP)
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP + " Stimuli for the grid.")
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="Where fit wrote predictions.h5 (default outputs/subjNN).")
@click.option("--features-dir", type=click.Path(), default=None, help="For the negative IP tokens.")
@click.option("--weights-root", type=click.Path(), default=None,
              help="Default $RIDGE_DECODE_WEIGHTS or <data root>/weights.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default recon/subjNN.")
@click.option("--decoder", type=click.Choice(["diffusion", "weight-free"]), default="diffusion", show_default=True)
@click.option("--ids", "ids_text", default=None, help="Comma-separated 73k ids of test images (default: all).")
@click.option("--n-images", type=int, default=None, help="Only the first N test images.")
@click.option("--batch-size", type=int, default=4, show_default=True)
@click.option("--steps", type=int, default=50, show_default=True, help="DDIM steps.")
@click.option("--strength", type=float, default=0.75, show_default=True, help="img2img strength from the latent.")
@click.option("--cfg", type=float, default=7.5, show_default=True, help="Classifier-free guidance scale.")
@click.option("--ip-scale", type=float, default=1.0, show_default=True, help="IP-Adapter scale.")
@click.option("--text", type=click.Choice(["empty", "predicted"]), default="empty", show_default=True,
              help="Prompt: the empty prompt or the predicted clip_text tokens.")
@click.option("--kappa", type=float, default=0.0, show_default=True,
              help="Guidance scale (0: off; NeuralDiffuser used 3e5). Needs predicted clip_layers.")
@click.option("--eta", type=float, default=0.2, show_default=True, help="Fraction of steps that are guided.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--samples", type=int, default=1, show_default=True, help="Samples per image.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True)
@click.option("--shard", default=None, help="i/N: decode only the i-th of N parts of the images.")
def decode(subject, data_root, model_dir, features_dir, weights_root, out, decoder, ids_text, n_images, batch_size,
           steps, strength, cfg, ip_scale, text, kappa, eta, seed, samples, device, dtype, shard):
    """Turn a fit's test predictions into images: <out>/<73k id>.png, grid.png and config.json (resumable)."""
    from .manifest import resolve_data_root

    root = resolve_data_root(data_root)
    model_dir = Path(model_dir or Path("outputs") / f"subj{subject:02d}")
    out = Path(out or Path("recon") / f"subj{subject:02d}")
    ids, pred, pred_path, pred_file = _read_predictions(model_dir, subject)
    try:
        _decode_all(subject, root, out, model_dir, ids, pred, pred_path, features_dir, weights_root, decoder,
                    ids_text, n_images, batch_size, steps, strength, cfg, ip_scale, text, kappa, eta, seed, samples,
                    device, dtype, shard)
    finally:
        pred_file.close()


def _decode_all(subject, root, out, model_dir, ids, pred, pred_path, features_dir, weights_root, decoder, ids_text,
                n_images, batch_size, steps, strength, cfg, ip_scale, text, kappa, eta, seed, samples, device, dtype,
                shard):
    import numpy as np
    from tqdm.auto import tqdm

    from . import plots
    from .features.extract import parse_shard, shard_ids
    from .io import atomic_path, file_signature, versions, write_json
    from .manifest import DataFileError, DataFormatError
    from .nsd import open_stimuli

    rows = np.arange(len(ids))
    if ids_text:
        want = list(dict.fromkeys(int(v) for v in ids_text.split(",") if v.strip()))
        unknown = sorted(set(want) - set(ids.tolist()))
        if unknown:
            raise click.ClickException(f"ids {unknown[:10]} are not test images of {pred_path}")
        rows = np.array([int(np.flatnonzero(ids == i)[0]) for i in want])
    if n_images is not None:
        rows = rows[:n_images]
    rows = shard_ids(rows, parse_shard(shard))
    try:
        stimuli = open_stimuli(root)
    except (DataFileError, DataFormatError) as exc:
        raise click.ClickException(str(exc)) from exc
    size = stimuli.shape[1]

    def name(i, k):
        return f"{int(i):05d}.png" if k == 0 else f"{int(i):05d}_{k}.png"

    todo = [r for r in rows if not all((out / name(ids[r], k)).exists() for k in range(samples))]
    config = {"subject": subject, "decoder": decoder, "model_dir": str(model_dir),
              "predictions": file_signature(pred_path), "n_images": len(rows), "samples": samples,
              "seed": seed, "shard": shard, "versions": versions()}
    try:
        if decoder == "weight-free":
            from .decode import weightfree

            pixels = _need(pred, "pixels", pred_path, "the weight-free decoder")
            def make(batch, k):
                return weightfree.pixels_to_images(_read_rows(pixels, batch), size=size)

            config["decoder_name"] = weightfree.NAME
        else:
            make, extra = _diffusion_decoder(pred, pred_path, root, features_dir, weights_root, ids, device, dtype,
                                             steps, strength, cfg, ip_scale, text, kappa, eta, seed, out)
            config.update(extra)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", config)
        bar = tqdm(total=len(todo) * samples, desc=f"decode ({decoder})", unit="img")
        for a in range(0, len(todo), batch_size):
            batch = list(todo[a : a + batch_size])
            for k in range(samples):
                images = make(batch, k)
                for r, img in zip(batch, images, strict=True):
                    img = _resize(img, size)
                    with atomic_path(out / name(ids[r], k), suffix=".png") as tmp:
                        _save_png(img, tmp)
                bar.update(len(batch))
        bar.close()
    except (DataFileError, DataFormatError) as exc:
        raise click.ClickException(str(exc)) from exc
    shown = rows[:10]
    recons = np.stack([_load_png(out / name(ids[r], 0)) for r in shown])
    plots.reconstruction_grid(stimuli.read(ids[shown]), recons, ids[shown], out / "grid.png",
                              title=f"subject {subject}: seen (top) and decoded by {decoder} (bottom)")
    click.echo(f"{len(rows)} images decoded into {out} ({len(rows) - len(todo)} already there)")


def _read_rows(ds, rows):
    """Rows of an h5py dataset in the order asked (h5py needs increasing indices); None stays None."""
    import numpy as np

    if ds is None:
        return None
    rows = np.asarray(rows)
    order = np.argsort(rows)
    return ds[rows[order].tolist()][np.argsort(order)]


def _resize(img, size):
    import numpy as np
    from PIL import Image

    return img if img.shape[0] == size else np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC))


def _save_png(img, path):
    from PIL import Image

    Image.fromarray(img).save(path, format="PNG")


def _load_png(path):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def _diffusion_decoder(pred, pred_path, root, features_dir, weights_root, ids, device, dtype, steps, strength, cfg,
                       ip_scale, text, kappa, eta, seed, out):
    """A ``make(rows, k)`` closure for IP-Adapter SD img2img, and the config entries that describe it."""
    import h5py

    from .decode import diffusion
    from .features import FeatureStore
    from .features.clip_layers import differentiable_features
    from .manifest import resolve_weights_root

    latents = _need(pred, "autokl", pred_path, "the img2img starting latent")
    tokens = _need(pred, "ipadapter_plus", pred_path, "the IP-Adapter tokens")
    text_pred = _need(pred, "clip_text", pred_path, "--text predicted") if text == "predicted" else None
    clip_pred = _need(pred, "clip_layers", pred_path, "guidance, --kappa > 0") if kappa > 0 else None
    store = FeatureStore(features_dir or Path(root) / "features")
    neg_path = store.path("ipadapter_plus")
    if not neg_path.exists():
        raise click.ClickException(f"the negative IP tokens are read from {neg_path}, which is missing. Extract "
                                   f"them with:\n    python scripts/extract_features.py --features ipadapter_plus "
                                   f"--features-dir {store.features_dir}")
    with h5py.File(neg_path, "r") as f:
        negative = f["negative"][()]
    wroot = resolve_weights_root(weights_root, root)
    pipe = diffusion.load_pipeline(wroot, device=device, dtype=dtype)
    feature_fn = None
    if kappa > 0:
        from .features.clip_layers import ClipLayers

        clip = ClipLayers(wroot, device=device, dtype=dtype).model
        feature_fn = lambda images: differentiable_features(clip, images)  # noqa: E731
    sampler = diffusion.SamplerConfig(steps=steps, strength=strength, cfg=cfg, ip_scale=ip_scale, kappa=kappa,
                                      eta=eta, seed=seed)
    log: list = []

    def make(rows, k):
        images = diffusion.decode_batch(pipe, _read_rows(latents, rows), _read_rows(tokens, rows), negative, sampler,
                                        ids[rows], sample_index=k, text_embeds=_read_rows(text_pred, rows),
                                        clip_targets=_read_rows(clip_pred, rows), feature_fn=feature_fn, log=log)
        if log:
            from .io import write_json

            write_json(out / "guidance_log.json", log)
        return images

    extra = {"decoder_name": diffusion.NAME, "steps": steps, "strength": strength, "cfg": cfg, "ip_scale": ip_scale,
             "text": text, "kappa": kappa, "eta": eta, "device": device, "dtype": dtype,
             "weights_root": str(wroot), "negative_tokens": str(neg_path)}
    return make, extra


# ----------------------------------------------------------------------------------------------- evaluate
@main.command()
@click.argument("dirs", nargs=-1, type=click.Path(file_okay=False))
@click.option("--aggregate", is_flag=True, help="Average the metrics.json of DIRS (one per subject) into one row.")
@click.option("--subject", type=int, default=1, show_default=True, help=SUBJECT_HELP)
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP)
@click.option("--recon-dir", type=click.Path(file_okay=False), default=None, help="Default recon/subjNN.")
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="A fit's folder: adds embedding-level scores of its predictions.")
@click.option("--features-dir", type=click.Path(), default=None, help="Default <data root>/features.")
@click.option("--weights-root", type=click.Path(), default=None,
              help="Default $RIDGE_DECODE_WEIGHTS or <data root>/weights.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default eval/subjNN.")
@click.option("--convention", type=click.Choice(["mindeye", "braindiffuser"]), default="mindeye", show_default=True,
              help="Resizing before the networks: MindEye's (256, then each size) or Brain-Diffuser's (224).")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--rank-by", type=click.Choice(["pixcorr", "ssim", "alexnet2", "alexnet5", "inception", "clip",
                                              "effnet_b", "swav"]), default="pixcorr", show_default=True,
              help="Metric that orders the best / median / worst figure.")
@click.option("--partial", is_flag=True, help="Score the reconstructions present instead of requiring all.")
def evaluate(dirs, aggregate, subject, data_root, recon_dir, model_dir, features_dir, weights_root, out, convention,
             batch_size, rank_by, partial):
    """Score reconstructions with the eight NSD metrics; write metrics.json, report.md and a figure."""
    import json

    import numpy as np

    from . import evaluate as ev
    from . import plots
    from .io import versions, write_json
    from .manifest import DataFileError, DataFormatError, resolve_data_root, resolve_weights_root
    from .nsd import load_subject, open_stimuli

    if aggregate:
        if not dirs:
            raise click.UsageError("--aggregate needs the evaluation folders, e.g. eval/subj01 eval/subj02")
        results = []
        for d in dirs:
            path = Path(d) / "metrics.json"
            if not path.exists():
                raise click.ClickException(f"{path} is missing: run scripts/evaluate.py for that subject first")
            results.append(json.loads(path.read_text()))
        out = Path(out or "eval/mean")
        mean = ev.aggregate(results)
        subjects = [r.get("subject") for r in results]
        write_json(out / "metrics.json", {"aggregate_of": [str(d) for d in dirs], "subjects": subjects,
                                          "metrics": mean, "versions": versions()})
        (out / "report.md").write_text(ev.report({f"ridge_decode (mean of subjects {subjects})": mean},
                                                 "Reconstruction metrics, averaged over subjects"))
        click.echo(f"written: {out / 'metrics.json'} and {out / 'report.md'}")
        return
    try:
        root = resolve_data_root(data_root)
        recon_dir = Path(recon_dir or Path("recon") / f"subj{subject:02d}")
        out = Path(out or Path("eval") / f"subj{subject:02d}")
        ids = load_subject(subject, root, progress=False).test_ids
        present = np.array([(recon_dir / f"{int(i):05d}.png").exists() for i in ids])
        if not present.all() and not partial:
            missing = ids[~present]
            raise click.ClickException(f"{recon_dir} lacks reconstructions of {len(missing)} test images (ids "
                                       f"{missing[:10].tolist()}{' ...' if len(missing) > 10 else ''}); decode them "
                                       f"with scripts/decode.py, or pass --partial")
        ids = ids[present]
        stimuli = open_stimuli(root).read(ids)
        recons = np.stack([_load_png(recon_dir / f"{int(i):05d}.png") for i in ids])
        scores, per_image = ev.image_metrics(stimuli, recons, resolve_weights_root(weights_root, root),
                                             convention=convention, batch_size=batch_size)
        result = {"subject": subject, "n_images": int(len(ids)), "convention": convention,
                  "recon_dir": str(recon_dir), "metrics": scores}
        decoder_config = recon_dir / "config.json"
        if decoder_config.exists():
            result["decoder"] = json.loads(decoder_config.read_text()).get("decoder_name")
        if model_dir:
            result["embedding"] = _embedding_scores(Path(model_dir), features_dir, root, ids)
    except (DataFileError, DataFormatError, KeyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    result["versions"] = versions()
    write_json(out / "metrics.json", result)
    write_json(out / "per_image.json", {"ids": ids, **per_image})
    name = f"ridge_decode (subject {subject}, {result.get('decoder') or 'unknown decoder'}, {len(ids)} images)"
    (out / "report.md").write_text(ev.report({name: scores}, f"Reconstruction metrics, subject {subject}",
                                             note=f"Resizing convention: {convention}."))
    if rank_by in per_image:
        plots.ranked_reconstructions(stimuli, recons, ids, per_image[rank_by], rank_by,
                                     ev.HIGHER_IS_BETTER[rank_by], out / "best_median_worst.png")
    for m in ev.METRICS:
        click.echo(f"{m:<10} {ev.format_value(m, scores[m]):>8}" + (f"  ({scores[m]['unavailable']})"
                                                                     if isinstance(scores[m], dict) else ""))
    click.echo(f"written: {out}")


def _embedding_scores(model_dir, features_dir, root, ids):
    """Embedding-level scores of each predicted group whose true features are cached."""
    import h5py
    import numpy as np

    from . import evaluate as ev
    from .features import FeatureStore

    store = FeatureStore(features_dir or Path(root) / "features")
    path = model_dir / "predictions.h5"
    if not path.exists():
        raise click.ClickException(f"no predictions at {path}: run scripts/fit.py first")
    out = {}
    with h5py.File(path, "r") as f:
        pid = f["ids"][()]
        rows = np.searchsorted(pid, ids) if (np.diff(pid) > 0).all() else None
        for g in f["pred"]:
            if not store.exists(g):
                out[g] = {"unavailable": f"{store.path(g)} is missing"}
                continue
            if rows is None or not np.array_equal(pid[np.clip(rows, 0, len(pid) - 1)], ids):
                raise click.ClickException(f"{path} does not hold predictions for every evaluated id")
            out[g] = ev.embedding_scores(f[f"pred/{g}"][()][rows], store.read(g, ids))
    return out


# ----------------------------------------------------------------------------------------------- transfer
@main.command()
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP)
@click.option("--reference", type=int, default=1, show_default=True, help="Reference subject (fitted once).")
@click.option("--subject", type=int, default=2, show_default=True, help="New subject.")
@click.option("--targets", default="pixels", show_default=True, help="Comma-separated cached feature families.")
@click.option("--features-dir", type=click.Path(), default=None, help="Default <data root>/features.")
@click.option("--reference-dir", type=click.Path(file_okay=False), default=None,
              help="The reference's fit (default outputs/subjNN); fitted there if absent.")
@click.option("--train-fraction", default="0.05,0.1,0.25,0.5,1", show_default=True,
              help="Fractions of the new subject's training images.")
@click.option("--rank", type=int, default=64, show_default=True, help="Shared directions per target group.")
@click.option("--alphas", default=None, help="Grid, 'a,b,c' or 'lo:hi:n' in log10 (default 0:8:20).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the training subsets.")
@click.option("--out", type=click.Path(file_okay=False), default="outputs", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Default <out>/transfer_subjNN_from_subjMM.json.")
def transfer(data_root, reference, subject, targets, features_dir, reference_dir, train_fraction, rank, alphas, seed,
             out, json_path):
    """Fit only a new output layer for --subject on the reference's frozen shared space; compare with scratch."""
    import importlib.util
    import time as _time

    import numpy as np

    from . import evaluate as ev
    from . import metrics, plots
    from .features import FeatureStore
    from .io import versions, write_json
    from .manifest import DataFileError, DataFormatError, resolve_data_root
    from .nsd import load_subject
    from .ridge import OneStageRidge
    from .transfer import SharedSpace, TransferRidge

    if importlib.util.find_spec("torch"):  # the eigensolver imports it: let no timed fit pay for that
        import torch  # noqa: F401

    root = resolve_data_root(data_root)
    groups = [t.strip() for t in targets.split(",") if t.strip()]
    fractions = [float(f) for f in train_fraction.split(",") if f.strip()]
    if any(not 0 < f <= 1 for f in fractions):
        raise click.BadParameter(f"--train-fraction values must be in (0, 1]; got {fractions}")
    grid = _alphas(alphas)
    ref_dir = Path(reference_dir or Path(out) / f"subj{reference:02d}")
    store = FeatureStore(features_dir or root / "features")
    try:
        t0 = _time.perf_counter()
        if (ref_dir / "model.h5").exists():
            ref_model = OneStageRidge.load(ref_dir / "model.h5")
            missing = [g for g in groups if g not in ref_model.groups_]
            if missing:
                raise click.ClickException(f"the reference model {ref_dir / 'model.h5'} has groups "
                                           f"{ref_model.groups_}, not {missing}; refit it with --targets "
                                           f"{targets} or pass another --reference-dir")
        else:
            _fit_subject(reference, root, None, targets, features_dir, ref_dir.parent, alphas=grid)
            ref_model = OneStageRidge.load(ref_dir / "model.h5")
        ref_fit_seconds = _time.perf_counter() - t0
        ref_data = load_subject(reference, root, progress=False)
        t0 = _time.perf_counter()
        shared = SharedSpace.from_reference(ref_model, ref_data.train_betas, rank=rank, groups=groups, seed=seed,
                                            info={"reference": reference})
        shared_seconds = _time.perf_counter() - t0
        new = load_subject(subject, root, progress=False)
        y_test = {g: store.read(g, new.test_ids) for g in groups}
    except (DataFileError, DataFormatError, KeyError) as exc:
        raise click.ClickException(str(exc).strip('"')) from exc
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(new.train_ids))
    results = []
    for frac in fractions:
        rows = np.sort(order[: max(2, int(round(frac * len(order))))])
        X = new.train_betas[rows]
        y_train = {g: store.read(g, new.train_ids[rows]) for g in groups}
        for method in ("transfer", "scratch"):
            t0 = _time.perf_counter()
            if method == "transfer":
                model = TransferRidge(shared, alphas=grid).fit(X, y_train)
            else:
                model = OneStageRidge(alphas=grid).fit(X, y_train)
            seconds = _time.perf_counter() - t0
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
            click.echo(f"{method:<9} fraction {frac:<5} ({len(rows):>5} images): mean r {results[-1]['mean_r']:.3f}, "
                       f"{seconds:.2f} s")
    json_path = Path(json_path or Path(out) / f"transfer_subj{subject:02d}_from_subj{reference:02d}.json")
    payload = {"results": results,
               "reference": {"subject": reference, "model": str(ref_dir / "model.h5"),
                             "load_or_fit_seconds": ref_fit_seconds, "shared_space_seconds": shared_seconds,
                             "fit_seconds": _reference_fit_seconds(ref_dir), **shared.info_},
               "config": {"subject": subject, "targets": groups, "fractions": fractions, "rank": rank,
                          "alphas": list(map(float, grid)), "seed": seed, "data_root": str(root)},
               "versions": versions()}
    write_json(json_path, payload)
    fig = plots.transfer_curves(results, json_path.with_suffix(".png"),
                                title=f"subject {subject} from reference {reference} (rank {rank})")
    click.echo(f"written: {json_path} and {fig}")


def _reference_fit_seconds(ref_dir: Path):
    import json

    path = ref_dir / "summary.json"
    return json.loads(path.read_text())["seconds"].get("fit") if path.exists() else None


# ---------------------------------------------------------------------------------------------- reproduce
@main.command()
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP)
@click.option("--weights-root", type=click.Path(), default=None,
              help="Default $RIDGE_DECODE_WEIGHTS or <data root>/weights.")
@click.option("--subjects", default="1,2,5,7", show_default=True)
@click.option("--targets", default="ipadapter_plus,autokl", show_default=True)
@click.option("--decoder", type=click.Choice(["diffusion", "weight-free"]), default="diffusion", show_default=True)
@click.option("--device", default="cuda", show_default=True)
@click.option("--decode-steps", type=int, default=None, help="DDIM steps (default: decode's own, 50).")
@click.option("--out", type=click.Path(file_okay=False), default="outputs", show_default=True)
@click.option("--recon", type=click.Path(file_okay=False), default="recon", show_default=True)
@click.option("--eval-dir", type=click.Path(file_okay=False), default="eval", show_default=True)
@click.option("--no-fetch", is_flag=True, help="The data is already there (or synthetic): skip fetching.")
@click.option("--dry-run", is_flag=True, help="Print each command with its expected time, disk and memory.")
def reproduce(data_root, weights_root, subjects, targets, decoder, device, decode_steps, out, recon, eval_dir,
              no_fetch, dry_run):
    """The whole chain for NSD subjects 1, 2, 5, 7: fetch, check, extract, fit, decode, evaluate, aggregate."""
    from .manifest import resolve_data_root, resolve_weights_root
    from .recipe import format_dry_run, nsd_steps

    root = resolve_data_root(data_root)
    steps = nsd_steps(root, resolve_weights_root(weights_root, root), _parse_ints(subjects), targets, out, recon,
                      eval_dir, decoder, device, fetch=not no_fetch,
                      decode_args=("--steps", str(decode_steps)) if decode_steps else ())
    if dry_run:
        click.echo(format_dry_run(steps))
        return
    for k, step in enumerate(steps, 1):
        if step.done():
            click.echo(f"[{k}/{len(steps)}] {step.name}: already done, skipped")
            continue
        click.echo(f"[{k}/{len(steps)}] {step.name}: {' '.join(step.argv)}")
        try:
            main(step.argv, standalone_mode=False)
        except SystemExit as exc:  # check-data exits with its status
            if exc.code:
                raise click.ClickException(f"step '{step.name}' failed (exit {exc.code}); fix it and rerun: "
                                           "finished steps are skipped") from exc
    click.echo(f"done: {Path(eval_dir) / 'mean' / 'report.md'}")


# --------------------------------------------------------------------------------------------------- demo
@main.command()
@click.option("--data-root", type=click.Path(), default="data/synthetic", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default="results", show_default=True)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the synthetic subject.")
@click.option("--n-show", default=20, show_default=True, type=int, help="Test images in the figure.")
def demo(data_root, out, seed, n_show):
    """The main job on the synthetic subject: simulate if absent, fit voxels -> pixels, decode, score."""
    import numpy as np

    from . import metrics, plots
    from .check import check_data as run_check
    from .decode import weightfree
    from .io import versions, write_json
    from .nsd import open_stimuli
    from .simulate import simulate as run_simulate

    t0 = time.perf_counter()
    root = Path(data_root)
    if not (root / "synthetic.json").exists():
        click.echo(f"simulating the synthetic subjects under {root} ...")
        run_simulate(root, size="small", subjects=(1, 2), seed=seed)
    bad = [r for r in run_check(root, (1,)) if r.status != "present"]
    if bad:
        raise click.ClickException(f"{root} is incomplete: {[(r.key, r.status, r.detail) for r in bad]}")
    if not (root / "features" / "pixels.h5").exists():
        from .features import FeatureStore

        _extract("pixels", root, FeatureStore(root / "features"), None, batch_size=64)
    summary, data, pred, y_test = _fit_subject(1, root, None, "pixels", None, Path(out) / "model")
    _print_summary(summary)
    recon = weightfree.pixels_to_images(pred["pixels"])
    truth = weightfree.pixels_to_images(y_test["pixels"])
    per_image_r = metrics.columnwise_r(recon.reshape(len(recon), -1).T.astype(float),
                                       truth.reshape(len(truth), -1).T.astype(float))
    stimuli = open_stimuli(root).read(data.test_ids[:n_show])
    shown = weightfree.pixels_to_images(pred["pixels"][:n_show], size=stimuli.shape[1])
    fig = plots.reconstruction_grid(stimuli, shown, data.test_ids[:n_show], Path(out) / "reconstructions.png",
                                    title="synthetic subject 1: held-out stimuli (top) and ridge reconstructions "
                                          "from voxels -> 32x32 pixels (bottom)", scores=per_image_r[:n_show])
    rng = np.random.default_rng(0)
    scores = {
        "decoder": weightfree.NAME,
        "n_test": int(len(data.test_ids)),
        "mean_r_per_target": summary["groups"]["pixels"]["mean_r"],
        "pixcorr": metrics.pixcorr(recon.astype(float), truth.astype(float)),
        "two_way_identification_pixels": metrics.two_way_identification(truth, recon),
        "two_way_identification_shuffled": metrics.two_way_identification(truth, recon[rng.permutation(len(recon))]),
        "note": "held-out shared1000-style test images of synthetic subject 1; pixels at 32x32, compared with "
                "the downsampled stimuli; shuffled = reconstructions paired with random stimuli (chance ~0.5)",
        "seconds_total": time.perf_counter() - t0,
        "fit_summary": summary,
        "versions": versions(),
    }
    write_json(Path(out) / "scores.json", scores)
    click.echo(f"PixCorr {scores['pixcorr']:.3f}, two-way identification {scores['two_way_identification_pixels']:.3f}"
               f" (shuffled {scores['two_way_identification_shuffled']:.3f})")
    click.echo(f"written: {fig} and {Path(out) / 'scores.json'} in {scores['seconds_total']:.1f} s")


if __name__ == "__main__":
    main()
