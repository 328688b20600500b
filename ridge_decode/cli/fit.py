"""The fit command, and the fit-and-write helper that demo and transfer reuse."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import DATA_ROOT_HELP, SUBJECT_HELP, _Timer, main
from .features import _default_features_dir, _extract


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

    from .. import metrics, plots
    from ..features import REGISTRY, FeatureStore
    from ..io import atomic_path, peak_rss_mb, versions, write_json
    from ..manifest import resolve_data_root
    from ..nsd import load_generic, load_subject
    from ..ridge import DEFAULT_ALPHAS, DEFAULT_CHUNK_SIZE, OneStageRidge

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
            # a family that needs no weights costs seconds: make it now instead of stopping
            if not store.exists(g) and g in REGISTRY and not REGISTRY[g].needs_weights:
                click.echo(f"{g} is not in the feature cache {fdir}: computing it now (it needs no weights)")
                _extract(g, root, store, None, input_file=input_file, progress=progress)
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

    from ..manifest import DataFileError
    from ..nsd import read_noise_ceiling

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
        from ..ridge import DEFAULT_ALPHAS

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
    from ..manifest import DataFileError, DataFormatError

    try:
        summary, *_ = _fit_subject(subject, data_root, input_file, targets, features_dir, out, backend=backend,
                                   alphas=_alphas(alphas), alpha_per=alpha_per, fixed_alpha=_fixed_alpha(fixed_alpha),
                                   rescale=rescale, sessions=sessions, chunk_size=chunk_size, min_nc=min_nc)
    except (DataFileError, DataFormatError, KeyError) as exc:  # KeyError: an image id missing from a feature file
        raise click.ClickException(str(exc).strip('"')) from exc
    _print_summary(summary)
    click.echo(f"written: {Path(out) / f'subj{subject:02d}'}")
