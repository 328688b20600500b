"""The reproduce command: the end-to-end NSD recipe."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import COUNT, DATA_ROOT_HELP, WEIGHTS_ROOT_HELP, decoder_choice, deprecated_flag, main, parse_ints


# ---------------------------------------------------------------------------------------------- reproduce
@main.command()
@click.option("--data-root", type=click.Path(), default=None, help=DATA_ROOT_HELP)
@click.option("--weights-root", type=click.Path(), default=None, help=WEIGHTS_ROOT_HELP)
@click.option("--subjects", default="1,2,5,7", show_default=True)
@click.option("--families", default="ipadapter_plus,autokl", show_default=True,
              help="Comma-separated feature families, extracted and fitted.")
@deprecated_flag("--targets", "--families", "families")
@click.option("--decoder", type=decoder_choice(), default="diffusion", show_default=True)
@click.option("--device", default="cuda", show_default=True)
@click.option("--decode-steps", type=COUNT, default=None, help="DDIM steps (default: decode's own, 50).")
@click.option("--out", type=click.Path(file_okay=False), default="outputs", show_default=True)
@click.option("--recon", type=click.Path(file_okay=False), default="recon", show_default=True)
@click.option("--eval-dir", type=click.Path(file_okay=False), default="eval", show_default=True)
@click.option("--no-fetch", is_flag=True, help="The data and weights are already there (or synthetic): fetch neither.")
@click.option("--dry-run", is_flag=True, help="Print each command with its expected time, disk and memory.")
def reproduce(data_root, weights_root, subjects, decode_steps, eval_dir, no_fetch, dry_run, **options):
    """The whole chain for NSD subjects 1, 2, 5, 7: fetch, check, extract, fit, decode, evaluate, aggregate."""
    # deferred: `ridge-decode --help` imports no stage
    from ..chain import nsd_chain
    from ..chain.local import format_dry_run, recipe_request, run
    from ..sources.manifest import resolve_data_root, resolve_weights_root

    root = resolve_data_root(data_root)
    req = recipe_request(root, resolve_weights_root(weights_root, root),
                         subjects=tuple(parse_ints(subjects, "--subjects", least=1)), evaluation=eval_dir,
                         fetch=not no_fetch,
                         decode_args=("--steps", str(decode_steps)) if decode_steps else (), **options)
    steps = nsd_chain(req)
    if dry_run:
        click.echo(format_dry_run(steps, req))
        return

    def invoke(argv):
        try:
            main(argv, standalone_mode=False)
        except SystemExit as exc:  # check-data exits with its status
            if exc.code:
                raise click.ClickException(f"step '{' '.join(argv[:1])}' failed (exit {exc.code}); fix it and "
                                           "rerun: finished steps are skipped") from exc

    run(steps, invoke, echo=click.echo)
    click.echo(f"done: {Path(eval_dir) / 'mean' / 'report.md'}")
