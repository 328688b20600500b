"""The click group, the option parsers every command shares, and the one place where user errors become messages."""

from __future__ import annotations

import click

SUBJECT_HELP = "NSD subject number, 1..8."
DATA_ROOT_HELP = "NSD (or synthetic) root; default $RIDGE_DECODE_DATA, else the manifest's data_root_default."
WEIGHTS_ROOT_HELP = "Default $RIDGE_DECODE_WEIGHTS or <data root>/weights."


def parse_ints(text: str) -> list[int]:
    """``"1,2"`` -> ``[1, 2]``, a usage error otherwise."""
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None


def parse_alphas(text):
    """``--alphas``: ``'a,b,c'`` or ``'lo:hi:n'`` (powers of ten); None gives the default grid."""
    import numpy as np

    if text is None:
        from ..ridge import DEFAULT_ALPHAS

        return DEFAULT_ALPHAS
    try:
        if ":" in text:  # lo:hi:n as powers of ten
            lo, hi, n = text.split(":")
            return np.logspace(float(lo), float(hi), int(n))
        return np.array([float(a) for a in text.split(",")])
    except ValueError:
        raise click.BadParameter(f"--alphas takes 'a,b,c' or 'lo:hi:n' (log10); got {text!r}") from None


class Group(click.Group):
    """A click group that prints a :class:`~ridge_decode.errors.RidgeDecodeError` as one line (exit 1).

    Every other exception is a bug and keeps its traceback.
    """

    def invoke(self, ctx):
        from ..errors import InputError, RidgeDecodeError

        try:
            return super().invoke(ctx)
        except InputError as exc:
            raise click.UsageError(str(exc), ctx) from exc
        except RidgeDecodeError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=Group)
@click.version_option(package_name="ridge_decode")
def main():
    """ridge_decode: reconstruct seen images from fMRI with ridge regression."""
