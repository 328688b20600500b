"""The evaluate command."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import DATA_ROOT_HELP, SUBJECT_HELP, main
from .decode import _load_png


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

    from .. import evaluate as ev
    from .. import plots
    from ..io import versions, write_json
    from ..manifest import DataFileError, DataFormatError, resolve_data_root, resolve_weights_root
    from ..nsd import load_subject, open_stimuli

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

    from .. import evaluate as ev
    from ..features import FeatureStore

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
