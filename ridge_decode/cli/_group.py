"""The click group and the helpers every command shares."""

from __future__ import annotations

import time

import click

SUBJECT_HELP = "NSD subject number, 1..8."
DATA_ROOT_HELP = "NSD (or synthetic) root; default $RIDGE_DECODE_DATA, else the manifest's data_root_default."


class _Timer:
    """Wall time of named stages, for the summary table."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Stage:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[name] = timer.seconds.get(name, 0.0) + time.perf_counter() - self.t0

        return _Stage()


def _parse_ints(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None


@click.group()
@click.version_option(package_name="ridge_decode")
def main():
    """ridge_decode: reconstruct seen images from fMRI with ridge regression."""

