"""The decode command."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import DATA_ROOT_HELP, SUBJECT_HELP, main


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
    from ..manifest import resolve_data_root

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

    from .. import plots
    from ..features.extract import parse_shard, shard_ids
    from ..io import atomic_path, file_signature, versions, write_json
    from ..manifest import DataFileError, DataFormatError
    from ..nsd import open_stimuli

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
            from ..decode import weightfree

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

    from ..decode import diffusion
    from ..features import FeatureStore
    from ..features.clip_layers import differentiable_features
    from ..manifest import resolve_weights_root

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
        from ..features.clip_layers import ClipLayers

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
            from ..io import write_json

            write_json(out / "guidance_log.json", log)
        return images

    extra = {"decoder_name": diffusion.NAME, "steps": steps, "strength": strength, "cfg": cfg, "ip_scale": ip_scale,
             "text": text, "kappa": kappa, "eta": eta, "device": device, "dtype": dtype,
             "weights_root": str(wroot), "negative_tokens": str(neg_path)}
    return make, extra
