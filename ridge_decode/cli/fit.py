"""The fit command."""

from __future__ import annotations

import math

import click

from ._group import (
    COUNT,
    FEATURES_DIR_HELP,
    RegistryChoice,
    deprecated_flag,
    device_choice,
    main,
    parse_alphas,
    source_options,
)


def solver_choice():
    """``--solver``'s choices: the ridge engine's registered solvers (``ridge.runner.SOLVERS``)."""
    # deferred: `ridge-decode --help` imports no stage
    from ..ridge.runner import SOLVERS

    return RegistryChoice(SOLVERS)


def _fixed_alpha(text, flag="'--fixed-alpha'"):
    """A fixed alpha: one number for every group, or ``group=alpha,...``."""
    if text is None:
        return None
    try:
        if "=" not in text:
            value = float(text)
            values = [value]
        else:
            pairs = [item.split("=") for item in text.split(",") if item.strip()]
            value = {g.strip(): float(a) for g, a in pairs}
            values = list(value.values())
    except ValueError:
        raise click.BadParameter(f"expected a number or 'group=alpha,...'; got {text!r}", param_hint=flag) from None
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise click.BadParameter(f"expected finite positive alphas; got {text!r}", param_hint=flag)
    return value


def resolve_solver(solver, alphas, fixed_alpha):
    """(solver, alphas) from the flags: ``--fixed-alpha X`` is the shorthand of ``--solver fixed --alphas X``;
    with ``--solver fixed``, ``--alphas`` is the alpha itself (one number or ``group=alpha,...``), else the grid."""
    if fixed_alpha is not None:
        if alphas is not None or solver not in ("gcv", "fixed"):
            raise click.UsageError("--fixed-alpha X is short for --solver fixed --alphas X: give it alone, without "
                                   f"--alphas or --solver {solver}")
        return "fixed", _fixed_alpha(fixed_alpha)
    if solver == "fixed":
        if alphas is None:
            raise click.UsageError("--solver fixed needs the alpha: --alphas 5e4, or --alphas 'autokl=5e4,...'")
        return solver, _fixed_alpha(alphas, "'--alphas'")
    return solver, parse_alphas(alphas)


@main.command()
@source_options()
@click.option("--families", default="pixels", show_default=True, help="Comma-separated cached feature families.")
@deprecated_flag("--targets", "--families", "families")
@click.option("--features-dir", type=click.Path(file_okay=False), default=None, help=FEATURES_DIR_HELP)
@click.option("--device", type=device_choice(), default="cpu", show_default=True,
              help="Where the ridge runs: cpu (himalaya's numpy backend), cuda (torch_cuda), or a himalaya backend.")
@deprecated_flag("--backend", "--device", "device", type=device_choice())
@click.option("--alphas", default=None,
              help="Grid, 'a,b,c' or 'lo:hi:n' in log10 (default 0:8:20); with --solver fixed, the alpha: one "
                   "('5e4') or per group ('autokl=5e4,clip_text=1e5').")
@click.option("--alpha-per", type=click.Choice(["target", "group"]), default="target", show_default=True)
@click.option("--solver", type=solver_choice(), default="gcv", show_default=True,
              help="gcv: this engine's choice by generalised cross-validation; fixed: the alphas given, no choice "
                   "(Brain-Diffuser's baseline); himalaya: himalaya's KernelRidgeCV, K-fold (--cv).")
@click.option("--fixed-alpha", default=None,
              help="Shorthand for --solver fixed --alphas X (Brain-Diffuser's baseline): one alpha ('5e4') or per "
                   "group ('autokl=5e4,clip_text=1e5').")
@click.option("--cv", type=click.IntRange(min=2), default=5, show_default=True, help="Folds of --solver himalaya.")
@click.option("--rescale", is_flag=True,
              help="Brain-Diffuser's rescaling of the test predictions by their own (test-set) statistics.")
@click.option("--chunk-size", type=COUNT, default=None, help="Targets per chunk (default 4096); bounds memory.")
@click.option("--min-nc", type=float, default=None,
              help="Keep only voxels whose noise ceiling (percent, for the averaged repeats) is at least this.")
@click.option("--out", type=click.Path(file_okay=False), default="outputs", show_default=True)
def fit(families, alphas, fixed_alpha, solver, **options):
    """Fit the one-stage ridge from a subject's voxels to cached feature families; write <out>/<label>."""
    # deferred: `ridge-decode --help` imports no stage
    from ..errors import for_command_line
    from ..pipeline import FitRequest, fit_subject, format_fit_summary, parse_families

    solver, alphas = resolve_solver(solver, alphas, fixed_alpha)
    result = fit_subject(FitRequest(**options, families=parse_families(families), alphas=alphas, solver=solver,
                                    echo=click.echo))
    click.echo(for_command_line(format_fit_summary(result.summary)))  # its warnings name flags, not parameters
    click.echo(f"written: {result.folder}")
