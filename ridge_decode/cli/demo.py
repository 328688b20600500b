"""The demo command: the main job on the synthetic subject."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import COUNT, main


@main.command()
@click.option("--data-root", type=click.Path(), default=None,
              help="The synthetic NSD root, simulated there if absent. Default: 'synthetic' in the data home "
                   "($RIDGE_DECODE_DATA, else ~/ridge_decode_data), written once and reused.")
@click.option("--out", type=click.Path(file_okay=False), default="results", show_default=True)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the synthetic subject.")
@click.option("--n-show", default=20, show_default=True, type=COUNT, help="Test images in the figure.")
def demo(data_root, out, seed, n_show):
    """The main job on the synthetic subject: simulate if absent, fit voxels -> pixels, decode, score."""
    # deferred: `ridge-decode --help` imports no stage
    from ..errors import for_command_line
    from ..pipeline import DemoRequest, run_demo

    def echo(line):  # the fit's warnings name flags, not Python parameters
        click.echo(for_command_line(line))

    scores = run_demo(DemoRequest(data_root, out, seed, n_show, echo=echo))
    click.echo(f"PixCorr at 32 px {scores['pixcorr_32px']:.3f}, two-way identification at 32 px "
               f"{scores['two_way_identification_pixels']:.3f} "
               f"(shuffled {scores['two_way_identification_shuffled']:.3f})")
    click.echo(f"written: {scores['figure']} and {Path(out) / 'scores.json'} in {scores['seconds_total']:.1f} s")
