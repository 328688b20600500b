"""The decode command."""

from __future__ import annotations

from dataclasses import fields

import click

from ._group import COUNT, FEATURES_DIR_HELP, WEIGHTS_ROOT_HELP, decoder_choice, main, parse_ints, source_options


@main.command()
@source_options()
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="Where fit or predict wrote predictions.h5 (default outputs/<label>).")
@click.option("--features-dir", type=click.Path(file_okay=False), default=None,
              help="For the negative IP tokens. " + FEATURES_DIR_HELP)
@click.option("--weights-root", type=click.Path(), default=None, help=WEIGHTS_ROOT_HELP)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default recon/<label>.")
@click.option("--decoder", type=decoder_choice(), default="diffusion", show_default=True)
@click.option("--ids", "ids_text", default=None, help="Comma-separated 73k ids of test images (default: all).")
@click.option("--n-images", type=COUNT, default=None, help="Only the first N test images.")
@click.option("--batch-size", type=COUNT, default=4, show_default=True)
@click.option("--steps", type=COUNT, default=50, show_default=True, help="DDIM steps.")
@click.option("--strength", type=float, default=0.75, show_default=True, help="img2img strength from the latent.")
@click.option("--cfg", type=float, default=7.5, show_default=True, help="Classifier-free guidance scale.")
@click.option("--ip-scale", type=float, default=1.0, show_default=True, help="IP-Adapter scale.")
@click.option("--text", type=click.Choice(["empty", "predicted"]), default="empty", show_default=True,
              help="Prompt: the empty prompt or the predicted clip_text tokens.")
@click.option("--kappa", type=float, default=0.0, show_default=True,
              help="Guidance scale (0: off; NeuralDiffuser used 3e5). Needs predicted clip_layers.")
@click.option("--eta", type=float, default=0.2, show_default=True, help="Fraction of steps that are guided.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--samples", type=COUNT, default=1, show_default=True, help="Samples per image.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True)
@click.option("--shard", default=None, help="i/N: decode only the i-th of N parts of the images.")
def decode(ids_text, **options):
    """Turn predictions into images: <out>/<id>.png, grid.png and config.json (resumable). The source gives the seen
    images for the grid and the size; without them (betas only) the reconstructions stand alone."""
    # deferred: `ridge-decode --help` imports no stage
    from ..decode.diffusion import SamplerConfig
    from ..pipeline import DecodeRequest, decode_subject

    sampler = SamplerConfig(**{f.name: options.pop(f.name) for f in fields(SamplerConfig) if f.name in options})
    result = decode_subject(DecodeRequest(**options, ids=parse_ints(ids_text, "--ids", least=0) if ids_text else None,
                                          sampler=sampler))
    click.echo(f"{result.n_images} images decoded into {result.folder} ({result.n_skipped} already there)")
