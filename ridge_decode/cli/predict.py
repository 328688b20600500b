"""The predict command: a fitted model applied to new brain data."""

from __future__ import annotations

import click

from ._group import FEATURES_DIR_HELP, main, source_options


@main.command()
@source_options()
@click.option("--model-dir", type=click.Path(file_okay=False), required=True,
              help="A fit's folder (model.h5, summary.json), e.g. outputs/subj01.")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True,
              help="Which rows of the source to predict.")
@click.option("--features-dir", type=click.Path(file_okay=False), default=None,
              help="Where the true targets are, for held-out r (optional). " + FEATURES_DIR_HELP)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Default predict/<label>: predictions.h5, which decode (--model-dir) and evaluate read.")
def predict(**options):
    """Apply a fitted model to betas from any source (a new session, another scan of the same images): write
    <out>/predictions.h5 and summary.json. The betas must hold the voxels the model was fitted on; images are not
    needed."""
    # deferred: `ridge-decode --help` imports no stage
    from ..pipeline import PredictRequest, predict_subject

    done = predict_subject(PredictRequest(**options, echo=click.echo))
    summary, folder = done.summary, done.folder
    r = ", ".join(f"{g} mean r {v:.3f}" for g, v in summary["r"].items())
    click.echo(f"{summary['n_images']} images, {summary['n_voxels']} voxels" + (f": {r}" if r else ""))
    click.echo(f"written: {folder}")
