"""The slurm command: submit the whole chain as dependent job arrays."""

from __future__ import annotations

import os

import click

from ._group import COUNT, WEIGHTS_ROOT_HELP, decoder_choice, deprecated_flag, main, parse_ints


@main.command()
@click.option("--data-root", type=click.Path(file_okay=False), default="data/synthetic", show_default=True,
              help="NSD (or synthetic) root, as every job will see it.")
@click.option("--subjects", default="1,2", show_default=True, help="Comma-separated subjects (the fit's array).")
@click.option("--families", default="pixels", show_default=True, help="Feature families to extract.")
@click.option("--fit-families", default="pixels", show_default=True, help="Feature families to fit.")
@deprecated_flag("--targets", "--fit-families", "fit_families")
@click.option("--extract-shards", type=COUNT, default=4, show_default=True, help="Tasks of the extraction array.")
@click.option("--decode-shards", type=COUNT, default=2, show_default=True, help="Tasks of each decoding array.")
@click.option("--decoder", type=decoder_choice(), default="weight-free", show_default=True)
@click.option("--device", default=lambda: os.environ.get("RIDGE_DECODE_DEVICE", "cpu"), show_default="cpu",
              help="cpu or cuda (default $RIDGE_DECODE_DEVICE): cuda adds --gres=gpu:1 to extraction and decoding.")
@click.option("--weights-root", type=click.Path(file_okay=False), default=None, help=WEIGHTS_ROOT_HELP)
@click.option("--features-dir", type=click.Path(file_okay=False), default=None, help="Default <data root>/features.")
@click.option("--out", type=click.Path(file_okay=False), default="outputs", show_default=True, help="Fits.")
@click.option("--recon", type=click.Path(file_okay=False), default="recon", show_default=True, help="Decodes.")
@click.option("--eval", "evaluation", type=click.Path(file_okay=False), default="eval", show_default=True)
@click.option("--run-dir", type=click.Path(file_okay=False), default="slurm", show_default=True,
              help="Job scripts, logs/ and plan.json (the job ids).")
@click.option("--resources", type=click.Choice(["nsd", "none"]), default="nsd", show_default=True,
              help="nsd: cpus, memory and time estimated for an NSD subject (not measured); none: request nothing.")
@click.option("--partition", default=None, help="SLURM partition (default: the cluster's).")
@click.option("--dry-run", is_flag=True,
              help="Write the job scripts, print the sbatch lines and the graph; submit nothing.")
def slurm(subjects, families, fit_families, **options):
    """Submit extraction, merge, fits, decoding, evaluation and the aggregate as dependent SLURM job arrays."""
    # deferred: `ridge-decode --help` imports no stage
    from ..chain.cluster import SlurmRequest, submit
    from ..pipeline import parse_families

    path = submit(SlurmRequest(**options, subjects=parse_ints(subjects, "--subjects", least=1),
                               families=parse_families(families),
                               fit_families=parse_families(fit_families, "--fit-families")),
                  echo=click.echo)
    click.echo(f"plan and job ids: {path}")
