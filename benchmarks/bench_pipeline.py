"""The whole chain through the package's own commands: simulate, extract, fit, decode and evaluate, timed per stage.

    python benchmarks/bench_pipeline.py --size small        # the tiny random models, on the CPU (a few minutes)

Each stage is one command of the CLI (``ridge_decode.cli``), in this process, on the small synthetic subject 1
(the pair is simulated first); the models are tiny random ones built from configs (``ridge_decode/tiny.py``) and
loaded through the same code as real weights, the evaluation networks randomly initialised. Prints seconds and
images per second per stage, and writes JSON. The timing measures the code paths, not the real models' cost; a
``--size full`` run (full-size random-weight models, for a GPU) is not built yet.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

FAMILIES = "pixels,autokl,ipadapter_plus,clip_layers"
TARGETS = "pixels,autokl,ipadapter_plus"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["small"], default="small")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=4, help="DDIM steps of the diffusion decode")
    parser.add_argument("--workdir", default=None, help="where to simulate and write (default: a temporary folder)")
    parser.add_argument("--json", default="benchmarks/results/bench_pipeline_small.json")
    args = parser.parse_args(argv)

    from ridge_decode.cli import main as cli
    from ridge_decode.io import versions, write_json
    from ridge_decode.tiny import make_tiny_metric_weights, make_tiny_weights

    rows = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        root, weights = tmp / "data", tmp / "weights"

        def stage(name, argv, images):
            t0 = time.perf_counter()
            cli(argv, standalone_mode=False)
            seconds = time.perf_counter() - t0
            rows[name] = {"seconds": seconds, "images": images, "images_per_second": images / seconds,
                          "command": " ".join(argv)}
            print(f"{name}: {seconds:.1f} s, {images / seconds:.1f} images/s", flush=True)

        stage("simulate", ["simulate", "--out", str(root), "--size", "small", "--subjects", "1,2"], 0)
        make_tiny_metric_weights(make_tiny_weights(weights))
        info = json.loads((root / "synthetic.json").read_text())
        from ridge_decode.sources import NSDSource

        data = NSDSource(root, 1).data(progress=False)
        n_images, n_test = len(data.train_ids) + len(data.test_ids), len(data.test_ids)
        common = ["--data-root", str(root), "--weights-root", str(weights)]
        stage("extract", ["extract-features", "--features", FAMILIES, *common, "--subjects", "1", "--device",
                          args.device], n_images)
        stage("fit", ["fit", "--data-root", str(root), "--targets", TARGETS, "--out", str(tmp / "out")], n_images)
        stage("decode", ["decode", *common, "--model-dir", str(tmp / "out" / "subj01"), "--decoder", "diffusion",
                         "--steps", str(args.steps), "--device", args.device, "--out", str(tmp / "recon")], n_test)
        stage("evaluate", ["evaluate", *common, "--recon-dir", str(tmp / "recon"), "--device", args.device, "--out",
                           str(tmp / "eval")], n_test)
    total = sum(r["seconds"] for r in rows.values())
    print(f"\nsmall synthetic subject 1 ({info['sessions']['1']} sessions; {n_images} images, {n_test} test), tiny "
          f"random models, {args.device}; decode {args.steps} DDIM steps")
    print("| stage | seconds | images | images/s |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        rate = f"{r['images_per_second']:.1f}" if r["images"] else "-"
        print(f"| {name} | {r['seconds']:.1f} | {r['images'] or '-'} | {rate} |")
    print(f"| all | {total:.1f} | | |")
    path = write_json(args.json, {"config": vars(args), "stages": rows, "total_seconds": total,
                                  "versions": versions()})
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
