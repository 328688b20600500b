"""The evaluate command."""

from __future__ import annotations

import click

from ._group import COUNT, FEATURES_DIR_HELP, WEIGHTS_ROOT_HELP, main, metric_choice, source_options


@main.command()
@click.argument("dirs", nargs=-1, type=click.Path(file_okay=False))
@click.option("--aggregate", is_flag=True, help="Average the metrics.json of DIRS (one per subject) into one row.")
@source_options(lazy=True)
@click.option("--recon-dir", type=click.Path(file_okay=False), default=None, help="Default recon/<label>.")
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="A fit's folder: adds embedding-level scores of its predictions.")
@click.option("--features-dir", type=click.Path(file_okay=False), default=None, help=FEATURES_DIR_HELP)
@click.option("--weights-root", type=click.Path(), default=None, help=WEIGHTS_ROOT_HELP)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default eval/<label>.")
@click.option("--convention", type=click.Choice(["mindeye", "braindiffuser"]), default="mindeye", show_default=True,
              help="Resizing before the networks: MindEye's (256, then each size) or Brain-Diffuser's (224).")
@click.option("--batch-size", type=COUNT, default=32, show_default=True)
@click.option("--rank-by", type=metric_choice(), default="pixcorr", show_default=True,
              help="Metric that orders the best / median / worst figure.")
@click.option("--partial", is_flag=True, help="Score the reconstructions present instead of requiring all.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda: where the metric networks run.")
def evaluate(dirs, aggregate, source_values, label, **options):
    """Score reconstructions with the eight NSD metrics; write metrics.json, report.md and a figure."""
    # deferred: `ridge-decode --help` imports no stage
    from ..evaluation import report
    from ..pipeline import EvaluateRequest, aggregate_evaluations, evaluate_subject
    from ..runtime import layout
    from ..sources import open_source

    if aggregate:
        folder = aggregate_evaluations(dirs, options["out"])
        click.echo(f"written: {folder / layout.METRICS_JSON} and {folder / layout.REPORT}")
        return
    done = evaluate_subject(EvaluateRequest(open_source(source_values, label), **options))
    scores, folder = done.result["metrics"], done.folder
    for m in scores:
        click.echo(f"{m:<10} {report.format_value(m, scores[m]):>8}" + (f"  ({scores[m]['unavailable']})"
                                                                     if isinstance(scores[m], dict) else ""))
    click.echo(f"written: {folder}")
