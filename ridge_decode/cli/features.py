"""The extract-features command."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import DATA_ROOT_HELP, _parse_ints, main


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
    from ..features import REGISTRY, FeatureStore
    from ..manifest import DataFileError, DataFormatError, resolve_data_root, resolve_weights_root

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
    from ..features import REGISTRY
    from ..manifest import entry_path

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

    from ..nsd import viewed_ids

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
    from ..features.extract import extract_family, parse_shard
    from ..nsd import open_stimuli, read_captions

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
