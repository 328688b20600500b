"""The transfer command."""

from __future__ import annotations

import click

from ._group import COUNT, FEATURES_DIR_HELP, FRACTIONS, SUBJECT, deprecated_flag, main, parse_alphas, source_options


@main.command()
@source_options(lazy=True)
@click.option("--reference", type=SUBJECT, default=1, show_default=True,
              help="Reference NSD subject under --data-root (fitted once), unless --reference-dir names a fit.")
@click.option("--families", default="pixels", show_default=True, help="Comma-separated cached feature families.")
@deprecated_flag("--targets", "--families", "families")
@click.option("--features-dir", type=click.Path(file_okay=False), default=None,
              help="The images' features, shared by both. " + FEATURES_DIR_HELP)
@click.option("--reference-dir", type=click.Path(file_okay=False), default=None,
              help="The reference's fit (default outputs/subjNN of --reference): its recorded source, of any kind, "
                   "is the reference's data. Fitted there if absent.")
@click.option("--train-fraction", "fractions", type=FRACTIONS, default="0.05,0.1,0.25,0.5,1", show_default=True,
              help="Fractions of the new subject's training images, each in (0, 1].")
@click.option("--rank", type=COUNT, default=64, show_default=True, help="Shared directions per feature family.")
@click.option("--alphas", default=None, help="Grid, 'a,b,c' or 'lo:hi:n' in log10 (default 0:8:20).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the training subsets.")
@click.option("--out", type=click.Path(file_okay=False), default="outputs", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Default <out>/transfer_<label>_from_<reference label>.json.")
def transfer(source_values, label, reference, families, fractions, alphas, **options):
    """Fit only a new output layer for --subject on the reference's frozen shared space; compare with two ridges fitted
    on --subject alone: alpha per target (scratch, as fit does) and alpha per principal direction of its own targets
    (scratch_principal, the same form as transfer: the gap to it is what the reference brings). The new subject is
    any source (NSD --subject, default 2; --input; --betas); both sources must share the feature cache's images."""
    # deferred: `ridge-decode --help` imports no stage
    from ..pipeline import TransferRequest, parse_families, reference_source, run_transfer
    from ..sources import NSDSource, open_source

    subject = open_source(source_values, label)
    if isinstance(subject, NSDSource) and source_values.get("subject") is None:
        subject = NSDSource(subject.root, 2, subject.sessions, label)  # the new NSD subject: 2 unless named
    ref = reference_source(options["reference_dir"], NSDSource(source_values.get("data_root"), reference))
    done = run_transfer(TransferRequest(ref, subject, **options, families=parse_families(families), fractions=fractions,
                                        alphas=parse_alphas(alphas), echo=click.echo))
    click.echo(f"written: {done.json_path} and {done.figure}")
