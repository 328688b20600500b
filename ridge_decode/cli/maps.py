"""The maps command."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import FEATURES_DIR_HELP, deprecated_flag, main, parse_alphas, source_options


@main.command()
@source_options()
@click.option("--families", default="pixels", show_default=True,
              help="Comma-separated cached feature families: an encoding map each (and a share map of the first two).")
@deprecated_flag("--targets", "--families", "families")
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="A fit whose decoder's activation patterns to map (default outputs/<label> where it exists).")
@click.option("--features-dir", type=click.Path(file_okay=False), default=None, help=FEATURES_DIR_HELP)
@click.option("--alphas", default=None, help="Grid of the encoding ridges, 'a,b,c' or 'lo:hi:n' in log10.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default maps/<label>.")
def maps(source, families, model_dir, features_dir, alphas, out):
    """Brain maps of a subject, as NIfTI in its own grid (the nsdgeneral ROI, or the --mask of NIfTI betas): the
    noise ceiling, an encoding map per feature family (GCV R^2 of the ridge from the features to each voxel), the
    share of the first two, and the fit's activation patterns (Haufe et al. 2014); plus maps.png and maps.json."""
    # deferred: `ridge-decode --help` imports no stage
    from ..pipeline import parse_families
    from ..pipeline.maps import MapsRequest, make_maps
    from ..runtime import layout

    if model_dir is None and (layout.fit_dir(source.label) / layout.MODEL).exists():
        model_dir = layout.fit_dir(source.label)
    done = make_maps(MapsRequest(source, parse_families(families), model_dir=model_dir, features_dir=features_dir,
                                 out=out, alphas=parse_alphas(alphas), echo=click.echo))
    summary, folder = done.summary, done.folder
    for name, s in summary["maps"].items():
        click.echo(f"{name:<32} median {s['median']:.4g} over {s['voxels']} voxels  -> {Path(folder) / name}.nii.gz")
    click.echo(f"written: {folder}")
