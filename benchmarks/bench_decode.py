"""Decoding against the UNet alone: the package's diffusion decoder, after its one load, beside the same UNet calls.

    python benchmarks/bench_decode.py                         # tiny random models, CPU (the code path only)
    python benchmarks/bench_decode.py --weights-root W --device cuda --dtype float16 --n-images 32 --batch-size 8

The pipeline is loaded once (``decode.diffusion.load_pipeline``, timed apart). Then ``decode_batch`` decodes
``--n-images`` predictions (random latents and IP tokens of the model's shapes; the sampler's defaults: steps,
img2img strength, classifier-free guidance) batch after batch, and the UNet alone runs the same number of calls on
the same inputs (the guidance's doubled batch, the IP tokens), without the scheduler, the VAE decode or the copies
to the host. Prints images per second for both and their ratio (issue 32 asks at least 85% on a GPU), and writes
JSON. With no ``--weights-root``, tiny random models are built: the ratio then says nothing of a real UNet.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights-root", default=None, help="SD 1.5 and IP-Adapter weights (default: tiny random)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    parser.add_argument("--n-images", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--json", default="benchmarks/results/bench_decode.json")
    args = parser.parse_args(argv)

    import torch

    from ridge_decode.decode.diffusion import SamplerConfig, decode_batch, load_pipeline
    from ridge_decode.runtime.io import versions, write_json
    from ridge_decode.weights import torch_load, weight_path

    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights_root
        if weights is None:
            from ridge_decode.weights.tiny import make_tiny_weights

            weights = make_tiny_weights(Path(tmp) / "weights")
        t0 = time.perf_counter()
        pipe = load_pipeline(weights, device=args.device, dtype=args.dtype)
        load = time.perf_counter() - t0
        queries = torch_load(weight_path("ipadapter_plus", weights), "ipadapter_plus")["image_proj"]["latents"].shape[1]
    unet, config = pipe.unet, SamplerConfig()
    side, width = unet.config.sample_size, unet.config.cross_attention_dim
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((args.n_images, 4, side, side)).astype(np.float32)
    tokens = rng.standard_normal((args.n_images, queries, width)).astype(np.float32) * 0.1
    negative = np.zeros((queries, width), np.float32)
    batches = [np.arange(a, min(a + args.batch_size, args.n_images)) for a in range(0, args.n_images, args.batch_size)]

    def sync():
        if str(args.device).startswith("cuda"):
            torch.cuda.synchronize()

    decode_batch(pipe, latents[batches[0]], tokens[batches[0]], negative, config, batches[0])  # warm-up
    sync()
    t0 = time.perf_counter()
    for b in batches:
        decode_batch(pipe, latents[b], tokens[b], negative, config, b)
    decode_s = time.perf_counter() - t0

    n_steps = min(int(round(config.steps * config.strength)), config.steps)
    cfg = 2 if config.cfg != 1.0 else 1
    dtype, device = unet.dtype, pipe.device
    t0 = time.perf_counter()
    for b in batches:
        x = torch.as_tensor(latents[b], dtype=dtype, device=device).repeat(cfg, 1, 1, 1)
        text = torch.zeros(len(x), 77, width, dtype=dtype, device=device)
        ip = {"image_embeds": [torch.as_tensor(tokens[b], dtype=dtype, device=device).repeat(cfg, 1, 1)[:, None]]}
        with torch.no_grad():
            for t in pipe.scheduler.timesteps[config.steps - n_steps:]:  # decode_batch's steps
                x_out = unet(x, t, encoder_hidden_states=text, added_cond_kwargs=ip).sample
        del x_out
    sync()
    unet_s = time.perf_counter() - t0
    row = {"load_seconds": load, "decode_seconds": decode_s, "unet_seconds": unet_s,
           "decode_images_per_second": args.n_images / decode_s, "unet_images_per_second": args.n_images / unet_s,
           "ratio": unet_s / decode_s, "steps": config.steps, "denoising_steps": n_steps, "cfg_batch": cfg}
    print(f"{'tiny random models' if args.weights_root is None else args.weights_root}, {args.device}, {args.dtype};"
          f" {args.n_images} images, batch {args.batch_size}, {n_steps} of {config.steps} steps, guidance x{cfg}")
    print("| run | seconds | images/s |\n|---|---|---|")
    print(f"| load (once) | {load:.1f} | - |")
    print(f"| decode_batch (the package) | {decode_s:.2f} | {row['decode_images_per_second']:.2f} |")
    print(f"| the UNet alone, same calls | {unet_s:.2f} | {row['unet_images_per_second']:.2f} |")
    print(f"decoding runs at {row['ratio']:.0%} of the UNet's rate")
    print(f"\nwritten: {write_json(args.json, {'config': vars(args), 'result': row, 'versions': versions()})}")


if __name__ == "__main__":
    main()
