"""Feature extraction speed: seconds per image for each family, with real weights or tiny random ones.

    python benchmarks/bench_features.py                                  # tiny models, synthetic images, CPU
    python benchmarks/bench_features.py --weights-root /data/weights --device cuda --dtype float16
    python benchmarks/bench_features.py --null-model          # the input pipeline alone: read, transfer, resize, write
    python benchmarks/bench_features.py --stand-in 0          # a model as slow as the input: the overlap
    python benchmarks/bench_features.py --forward --weights-root W --device cuda   # each family against its model

With no ``--weights-root``, tiny random models (ridge_decode/weights/tiny.py) are written to a temporary folder: the
timing then measures the code path (reading, preprocessing, batching, writing), not the real models' cost.
Images are synthetic photographs at NSD's 425 x 425; captions are five short sentences per image.
Prints a markdown table and writes JSON.

``--null-model`` runs the input pipeline alone through the package's own extraction (a registered stand-in family
whose "model" is the device preprocessing to 224 x 224 and a mean): images per second here bound what any model
can reach, on a GPU too. ``--stand-in SECONDS`` adds a model that sleeps that long per batch and runs the
extraction overlapped and one step after the other, against the input pipeline's own time. ``--forward`` also
times each model alone on one batch prepared once (``prepare`` then ``forward`` of each extractor), so that the
extraction's images per second can be set against the model's own in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    parser.add_argument("--forward", action="store_true",
                        help="also time each model alone on one prepared batch (its forward-only rate)")
    parser.add_argument("--null-model", action="store_true", help="the input pipeline alone, no model")
    parser.add_argument("--stand-in", type=float, default=None,
                        help="a model sleeping this many s per batch (0: as long as a batch's reading and writing)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="with --null-model or --stand-in: runs of each row, the median reported (runs of under "
                             "a second can be off by 20%% here)")
    args = parser.parse_args(argv)
    if args.null_model or args.stand_in is not None:
        return pipeline_alone(args)

    import torch

    from ridge_decode.features import REGISTRY, FeatureStore
    from ridge_decode.features.extract import extract_family
    from ridge_decode.runtime.io import versions, write_json

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.n_images, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    ids = np.arange(args.n_images)
    captions = [[f"a photo of thing {i} number {k} on a table" for k in range(5)] for i in ids]
    results, tiny = {}, args.weights_root is None
    config = {**vars(args), "tiny_models": tiny, "image_size": IMAGE_SIZE}
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights_root
        if weights is None:
            from ridge_decode.weights.tiny import make_tiny_weights

            weights = make_tiny_weights(Path(tmp) / "weights")
        for name in args.families.split(","):
            store = FeatureStore(Path(tmp) / "features")
            t0 = time.perf_counter()
            extractor = REGISTRY[name].make(weights, device=args.device, dtype=args.dtype)  # loading, timed apart
            load = time.perf_counter() - t0
            family = REGISTRY[name]
            # the extraction gets the model loaded above: its time is the extraction's, with no second load
            REGISTRY[name] = dataclasses.replace(family, make=lambda *_, loaded=extractor, **__: loaded)
            try:
                t0 = time.perf_counter()
                extract_family(name, ids, store, read_images=lambda b: images[b],
                               read_captions=lambda b: [captions[i] for i in b], weights_root=weights,
                               device=args.device, dtype=args.dtype, batch_size=args.batch_size, progress=False)
                total = time.perf_counter() - t0
            finally:
                REGISTRY[name] = family
            results[name] = {"load_seconds": load, "seconds_per_image": total / args.n_images}
            print(f"{name}: {results[name]['seconds_per_image'] * 1000:.1f} ms per image", flush=True)
            if args.forward:
                results[name] |= forward_only(REGISTRY[name], extractor, args, images, captions)
            del extractor
            # after each family, so that a run cut short (a time limit on a lent GPU) keeps what it measured
            write_json(args.json, {"config": config, "families": results, "versions": versions()})
    print(f"\n{'tiny random models' if tiny else args.weights_root}, {args.device}, {args.dtype}, "
          f"{args.n_images} images of {IMAGE_SIZE}x{IMAGE_SIZE}, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads")
    print("| family | ms per image | model load s | forward only, ms per image | extraction / forward-only rate |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        fwd = r.get("forward_seconds_per_image")
        rate = f"{fwd / r['seconds_per_image']:.0%}" if fwd and r["seconds_per_image"] else "-"
        print(f"| {name} | {r['seconds_per_image'] * 1000:.1f} | {r['load_seconds']:.2f} | "
              f"{fwd * 1000:.1f} | {rate} |" if fwd else f"| {name} | {r['seconds_per_image'] * 1000:.1f} | "
              f"{r['load_seconds']:.2f} | - | - |")
    print(f"\nwritten: {args.json}")


def forward_only(family, extractor, args, images, captions) -> dict:
    """The model alone: one batch prepared once (on the device), then its ``forward`` timed as many times as the
    extraction has batches, after one warm-up (a family without ``forward``, like ``pixels``, has no model)."""
    if not hasattr(extractor, "forward"):
        return {}
    batch = images[: args.batch_size] if family.inputs == "images" else captions[: args.batch_size]
    prepared = extractor.prepare(batch)
    extractor.forward(prepared)  # warm-up: kernels chosen, caches filled
    n_batches = -(-args.n_images // args.batch_size)
    t0 = time.perf_counter()
    for _ in range(n_batches):
        extractor.forward(prepared)  # each returns host arrays, so the device has finished
    seconds = time.perf_counter() - t0
    print(f"  forward only: {seconds / (n_batches * len(batch)) * 1000:.1f} ms per image", flush=True)
    return {"forward_seconds_per_image": seconds / (n_batches * len(batch))}


class _NullModel:
    """A stand-in family: the device preprocessing to 224 x 224 (as the CLIP families do) and a mean per image;
    with ``sleep``, also that many seconds per batch, like a model of fixed cost."""

    inputs = "images"
    sleep = 0.0
    preprocess = True

    def __init__(self, weights_root=None, device="cpu", dtype="float32"):
        self.device, self.shape, self.files = device, (3,), {}
        self.preprocessing = "device resize to 224 x 224, mean per channel"

    def __call__(self, images):
        from ridge_decode.features.preprocess import resize, to_device

        if self.sleep:
            time.sleep(self.sleep)
        if not self.preprocess:
            return np.zeros((len(images), 3), np.float32)
        return resize(to_device(images, self.device), (224, 224)).mean((2, 3)).cpu().numpy()

    def extras(self):
        return {}


def pipeline_alone(args) -> None:
    """The input pipeline, through ``extract_families`` with the stand-in family, from an HDF5 stimuli file."""
    import h5py

    from ridge_decode.features import REGISTRY, FeatureStore
    from ridge_decode.features.extract import extract_families
    from ridge_decode.features.registry import FeatureFamily
    from ridge_decode.runtime.io import versions, write_json
    from ridge_decode.sources.base import Stimuli

    REGISTRY["null"] = FeatureFamily("null", (3,), "benchmark stand-in", _NullModel)
    rng = np.random.default_rng(0)
    ids = np.arange(args.n_images)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stimuli.h5"
        with h5py.File(path, "w") as f:  # NSD's layout: one gzip chunk per image
            f.create_dataset("imgBrick", data=rng.integers(0, 256, (args.n_images, IMAGE_SIZE, IMAGE_SIZE, 3),
                                                          dtype=np.uint8),
                             chunks=(1, IMAGE_SIZE, IMAGE_SIZE, 3), compression="gzip")
        stimuli = Stimuli(path)
        n_batches = -(-args.n_images // args.batch_size)

        def timed(label, sleep, overlap, preprocess):
            _NullModel.sleep, _NullModel.preprocess = sleep, preprocess
            each = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                extract_families(["null"], ids, FeatureStore(Path(tmp) / f"f{len(rows)}-{len(each)}"),
                                 read_images=stimuli.read, device=args.device, batch_size=args.batch_size,
                                 progress=False, overlap=overlap)
                each.append(time.perf_counter() - t0)
            seconds = float(np.median(each))
            rows[label] = {"seconds": seconds, "seconds_each": each, "images_per_second": args.n_images / seconds,
                           "sleep": sleep, "overlap": overlap, "preprocess": preprocess,
                           "model_seconds": n_batches * sleep}
            print(f"{label}: {seconds:.2f} s (median of {args.repeats}), {args.n_images / seconds:.1f} images/s",
                  flush=True)

        timed("input pipeline (read, transfer, resize on the device, write)", 0.0, True, True)
        if args.stand_in is not None:
            timed("input alone: read and write, one after the other", 0.0, False, False)
            sleep = args.stand_in or rows["input alone: read and write, one after the other"]["seconds"] / n_batches
            timed("stand-in model, one after the other", sleep, False, False)
            timed("stand-in model, overlapped", sleep, True, False)
    input_s = rows.get("input alone: read and write, one after the other", {}).get("seconds", 0.0)
    print(f"\n{args.n_images} images of {IMAGE_SIZE}x{IMAGE_SIZE} from HDF5, batch {args.batch_size}, {args.device}, "
          f"median of {args.repeats} runs")
    print("| run | wall s | images/s | model s (batches x sleep) | wall / max(input, model) |")
    print("|---|---|---|---|---|")
    for label, r in rows.items():
        ratio = r["seconds"] / max(input_s, r["model_seconds"]) if r["model_seconds"] else float("nan")
        print(f"| {label} | {r['seconds']:.2f} | {r['images_per_second']:.1f} | {r['model_seconds']:.2f} | "
              f"{ratio:.2f} |")
    print(f"\nwritten: {write_json(args.json, {'config': vars(args), 'runs': rows, 'versions': versions()})}")


if __name__ == "__main__":
    main()
