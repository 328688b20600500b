"""The evaluate command."""

from __future__ import annotations

import click

from ._group import COUNT, DATA_ROOT_HELP, SUBJECT, SUBJECT_HELP, WEIGHTS_ROOT_HELP, main


@main.command()
@click.argument("dirs", nargs=-1, type=click.Path(file_okay=False))
@click.option("--aggregate", is_flag=True, help="Average the metrics.json of DIRS (one per subject) into one row.")
@click.option("--subject", type=SUBJECT, default=1, show_default=True, help=SUBJECT_HELP)
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP)
@click.option("--input", "input_file", type=click.Path(dir_okay=False), default=None,
              help="Your own data file: its test ids and images are the ground truth, instead of --data-root.")
@click.option("--recon-dir", type=click.Path(file_okay=False), default=None, help="Default recon/subjNN.")
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="A fit's folder: adds embedding-level scores of its predictions.")
@click.option("--features-dir", type=click.Path(file_okay=False), default=None, help="Default <data root>/features.")
@click.option("--weights-root", type=click.Path(), default=None,
              help=WEIGHTS_ROOT_HELP)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default eval/subjNN.")
@click.option("--convention", type=click.Choice(["mindeye", "braindiffuser"]), default="mindeye", show_default=True,
              help="Resizing before the networks: MindEye's (256, then each size) or Brain-Diffuser's (224).")
@click.option("--batch-size", type=COUNT, default=32, show_default=True)
@click.option("--rank-by", type=click.Choice(["pixcorr", "ssim", "alexnet2", "alexnet5", "inception", "clip",
                                              "effnet_b", "swav"]), default="pixcorr", show_default=True,
              help="Metric that orders the best / median / worst figure.")
@click.option("--partial", is_flag=True, help="Score the reconstructions present instead of requiring all.")
def evaluate(dirs, aggregate, **options):
    """Score reconstructions with the eight NSD metrics; write metrics.json, report.md and a figure."""
    from .. import evaluate as ev
    from .. import layout
    from ..pipeline import EvaluateRequest, aggregate_evaluations, evaluate_subject

    if aggregate:
        folder = aggregate_evaluations(dirs, options["out"])
        click.echo(f"written: {folder / layout.METRICS} and {folder / layout.REPORT}")
        return
    result, folder = evaluate_subject(EvaluateRequest(**options))
    scores = result["metrics"]
    for m in ev.METRICS:
        click.echo(f"{m:<10} {ev.format_value(m, scores[m]):>8}" + (f"  ({scores[m]['unavailable']})"
                                                                     if isinstance(scores[m], dict) else ""))
    click.echo(f"written: {folder}")
