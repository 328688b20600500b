"""Feature extraction speed: seconds per image for each family, with real weights or tiny random ones.

    python benchmarks/bench_features.py                                  # tiny models, synthetic images, CPU
    python benchmarks/bench_features.py --weights-root /data/weights --device cuda --dtype float16

With no ``--weights-root``, tiny random models (ridge_decode/tiny.py) are written to a temporary folder: the
timing then measures the code path (reading, preprocessing, batching, writing), not the real models' cost.
Images are synthetic photographs at NSD's 425 x 425; captions are five short sentences per image.
Prints a markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

FAMILIES = ("ipadapter_plus", "autokl", "clip_text", "clip_layers", "pixels")
IMAGE_SIZE = 425  # NSD's stimuli are 425 x 425


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights-root", default=None, help="real weights (default: tiny random models)")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--n-images", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    parser.add_argument("--json", default="benchmarks/results/bench_features.json")
    args = parser.parse_args(argv)

    import torch

    from ridge_decode.features import REGISTRY, FeatureStore
    from ridge_decode.features.extract import extract_family
    from ridge_decode.io import versions, write_json

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.n_images, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    ids = np.arange(args.n_images)
    captions = [[f"a photo of thing {i} number {k} on a table" for k in range(5)] for i in ids]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights_root
        if weights is None:
            from ridge_decode.tiny import make_tiny_weights

            weights = make_tiny_weights(Path(tmp) / "weights")
        for name in args.families.split(","):
            store = FeatureStore(Path(tmp) / "features")
            t0 = time.perf_counter()
            REGISTRY[name].make(weights, device=args.device, dtype=args.dtype)  # loading, timed apart
            load = time.perf_counter() - t0
            t0 = time.perf_counter()
            extract_family(name, ids, store, read_images=lambda b: images[b], read_captions=lambda b: [captions[i]
                           for i in b], weights_root=weights, device=args.device, dtype=args.dtype,
                           batch_size=args.batch_size, progress=False)
            total = time.perf_counter() - t0 - load  # extract_family loads the model again
            results[name] = {"load_seconds": load, "seconds_per_image": max(total, 0.0) / args.n_images}
            print(f"{name}: {results[name]['seconds_per_image'] * 1000:.1f} ms per image", flush=True)
    tiny = args.weights_root is None
    print(f"\n{'tiny random models' if tiny else args.weights_root}, {args.device}, {args.dtype}, "
          f"{args.n_images} images of {IMAGE_SIZE}x{IMAGE_SIZE}, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads")
    print("| family | ms per image | model load s |")
    print("|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds_per_image'] * 1000:.1f} | {r['load_seconds']:.2f} |")
    config = {**vars(args), "tiny_models": tiny, "image_size": IMAGE_SIZE}
    print(f"\nwritten: {write_json(args.json, {'config': config, 'families': results, 'versions': versions()})}")


if __name__ == "__main__":
    main()
