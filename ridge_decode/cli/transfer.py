"""The transfer command."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import DATA_ROOT_HELP, main
from .fit import _alphas, _fit_subject


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

    from .. import evaluate as ev
    from .. import metrics, plots
    from ..features import FeatureStore
    from ..io import versions, write_json
    from ..manifest import DataFileError, DataFormatError, resolve_data_root
    from ..nsd import load_subject
    from ..ridge import OneStageRidge
    from ..transfer import SharedSpace, TransferRidge

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
