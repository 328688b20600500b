"""The extract-features command."""

from __future__ import annotations

import click

from ._group import COUNT, FEATURES_DIR_HELP, WEIGHTS_ROOT_HELP, deprecated_flag, main, parse_ints, source_options


@main.command("extract-features")
@click.option("--families", default="pixels", show_default=True,
              help="Comma-separated families: ipadapter_plus,autokl,clip_text,clip_layers,pixels.")
@deprecated_flag("--features", "--families", "families")
@source_options(exclude=("subject", "sessions"))
@click.option("--features-dir", type=click.Path(file_okay=False), default=None, help=FEATURES_DIR_HELP)
@click.option("--weights-root", type=click.Path(), default=None, help=WEIGHTS_ROOT_HELP)
@click.option("--subjects", default=None,
              help="NSD: the images these subjects saw (default: every subject with betas; own data: every image).")
@click.option("--ids", "ids_text", default=None,
              help="A subset instead: 'all' (every image in the stimuli file), 'a,b,c' or 'start:stop' (0-based).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--batch-size", default=32, show_default=True, type=COUNT)
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True,
              help="Stored dtype (models run in float16 only on CUDA).")
@click.option("--shard", default=None, help="i/N: compute only the i-th of N contiguous parts of the ids.")
@click.option("--merge", is_flag=True, help="Join the shard files of each family into one, checking every id.")
@click.option("--list", "list_only", is_flag=True, help="List the families, their shapes and whether weights exist.")
def extract_features(source, families, subjects, ids_text, merge, list_only, **options):
    """Compute feature families for the stimuli and cache them by image id (resumable, shardable)."""
    # deferred: `ridge-decode --help` imports no stage
    from ..pipeline import ExtractRequest, merge_feature_shards, parse_families
    from ..pipeline import run_extract as run
    from ..runtime import layout
    from ..sources.manifest import resolve_weights_root

    if list_only:
        click.echo(_list_families(resolve_weights_root(options["weights_root"], source.root)))
        return
    families = parse_families(families)
    if merge:
        folder = layout.features_dir(options["features_dir"], source.default_features_dir())
        for name, path in merge_feature_shards(families, folder).items():
            click.echo(f"{name}: merged into {path}")
        return
    chosen = parse_ints(subjects, "--subjects", least=1) if subjects else None
    written = run(ExtractRequest(families, source, **options, subjects=chosen, ids=ids_text))
    for name, path in written.items():
        click.echo(f"{name}: {path}")


def _list_families(weights_root) -> str:
    # deferred: `ridge-decode --help` imports no stage
    from ..features import REGISTRY
    from ..sources.manifest import entry_path

    rows = []
    for f in REGISTRY.values():
        if f.weights:
            missing = [k for k in f.weights if not entry_path(k, weights_root).exists()]
            state = "weights present" if not missing else f"weights missing: {', '.join(missing)}"
        else:
            state = "no weights needed"
        rows.append((f.name, "x".join(map(str, f.shape)), state, f.description))
    widths = [max(len(r[k]) for r in rows) for k in range(3)]  # columns as wide as their longest cell
    return "\n".join([f"weights root: {weights_root}"] + ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths,
                                                                                               strict=True))
                                                          + "  " + r[3] for r in rows])
