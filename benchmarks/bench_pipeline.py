"""The whole chain through the package's own commands: simulate, extract, fit, decode and evaluate, timed per stage.

    python benchmarks/bench_pipeline.py --size small        # the tiny random models, on the CPU (about 2 minutes)
    python benchmarks/bench_pipeline.py --size full         # full-size random models, for one GPU (float16)
    python benchmarks/bench_pipeline.py --size full --dry-run   # the commands, without running them

Each stage is one command of the CLI (``ridge_decode.cli``), in this process, on the small synthetic subject 1
(the pair is simulated first). ``small``: the tiny random models of ``ridge_decode/weights/tiny.py``, on the CPU: it
measures the code paths, not the real models' cost. ``full``: random-weight models of the real architectures
(``tiny.make_fullsize_weights``: SD 1.5, IP-Adapter-Plus with ViT-H/14, CLIP ViT-L/14; weight values change the
output, not the cost), on ``--device`` (default cuda) in float16, the fit on ``torch_cuda``. Both load through the
same code as real weights; the evaluation networks are randomly initialised torchvision models. Prints seconds
and images per second per stage, and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

FAMILIES = "pixels,autokl,ipadapter_plus,clip_layers"
FIT_FAMILIES = "pixels,autokl,ipadapter_plus"
SIZES = {  # what each size runs: device, stored dtype, batch sizes, the fit's device, DDIM steps, decoded images
    "small": {"device": "cpu", "dtype": "float32", "extract_batch": 32, "fit_device": "cpu", "steps": 4,
              "decode_batch": 4, "decode_images": None},
    "full": {"device": "cuda", "dtype": "float16", "extract_batch": 64, "fit_device": "cuda", "steps": 50,
             "decode_batch": 8, "decode_images": 32},
}


def stages(size: dict, root: Path, weights: Path, work: Path) -> list[tuple[str, list[str], str]]:
    """(name, command line, what its images are: "all", "test" or "decoded") of each stage after simulating."""
    common = ["--data-root", str(root), "--weights-root", str(weights)]
    device = ["--device", size["device"]]
    n_images = ["--n-images", str(size["decode_images"])] if size["decode_images"] else []
    return [
        ("extract", ["extract-features", "--families", FAMILIES, *common, "--subjects", "1", *device, "--dtype",
                     size["dtype"], "--batch-size", str(size["extract_batch"])], "all"),
        ("fit", ["fit", "--data-root", str(root), "--families", FIT_FAMILIES, "--device", size["fit_device"], "--out",
                 str(work / "out")], "all"),
        ("decode", ["decode", *common, "--model-dir", str(work / "out" / "subj01"), "--decoder", "diffusion",
                    "--steps", str(size["steps"]), *device, "--dtype", size["dtype"], "--batch-size",
                    str(size["decode_batch"]), *n_images, "--out", str(work / "recon")], "decoded"),
        ("evaluate", ["evaluate", *common, "--recon-dir", str(work / "recon"), *device, "--partial", "--out",
                      str(work / "eval")], "decoded"),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=list(SIZES), default="small")
    parser.add_argument("--device", default=None, help="default: cpu for small, cuda for full")
    parser.add_argument("--fit-device", default=None, help="where the fit runs (default: cpu for small, cuda for "
                                                          "full)")
    parser.add_argument("--steps", type=int, default=None, help="DDIM steps of the diffusion decode")
    parser.add_argument("--workdir", default=None, help="where to simulate and write (default: a temporary folder)")
    parser.add_argument("--weights-root", default=None,
                        help="models already built for this size (tiny.make_*_weights): used, not built again")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--json", default=None, help="default benchmarks/results/bench_pipeline_<size>.json")
    args = parser.parse_args(argv)
    given = {"device": args.device, "fit_device": args.fit_device, "steps": args.steps}
    size = dict(SIZES[args.size], **{k: v for k, v in given.items() if v})

    from ridge_decode.cli import main as cli
    from ridge_decode.runtime.io import versions, write_json
    from ridge_decode.weights.tiny import make_fullsize_weights, make_tiny_metric_weights, make_tiny_weights

    rows = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        root, weights = tmp / "data", Path(args.weights_root) if args.weights_root else tmp / "weights"
        simulate = ["simulate", "--out", str(root), "--size", "small", "--subjects", "1,2"]
        if args.dry_run:
            for name, command, _ in [("simulate", simulate, None), *stages(size, root, weights, tmp)]:
                print(f"{name}: python -m ridge_decode.cli {' '.join(command)}")
            return

        def timed(name, fn, images=0, command=""):
            t0 = time.perf_counter()
            fn()
            seconds = time.perf_counter() - t0
            rows[name] = {"seconds": seconds, "images": images, "images_per_second": images / seconds if images
                          else None, "command": command}
            print(f"{name}: {seconds:.1f} s" + (f", {images / seconds:.1f} images/s" if images else ""), flush=True)

        timed("simulate", lambda: cli(simulate, standalone_mode=False), command=" ".join(simulate))
        make = make_fullsize_weights if args.size == "full" else make_tiny_weights
        if not args.weights_root:
            timed("weights", lambda: make_tiny_metric_weights(make(weights)), command=f"{make.__name__} (+ metrics)")
        info = json.loads((root / "synthetic.json").read_text())
        from ridge_decode.sources import NSDSource

        data = NSDSource(root, 1).data(progress=False)
        n_test = len(data.test_ids)
        counts = {"all": len(data.train_ids) + n_test, "test": n_test,
                  "decoded": min(n_test, size["decode_images"] or n_test)}
        for name, command, what in stages(size, root, weights, tmp):
            timed(name, lambda command=command: cli(command, standalone_mode=False), counts[what], " ".join(command))
    total = sum(r["seconds"] for r in rows.values())
    device = size["device"]
    if device.startswith("cuda"):
        import torch

        device = f"{device} ({torch.cuda.get_device_name(0)})"
    print(f"\nsmall synthetic subject 1 ({info['sessions']['1']} sessions; {counts['all']} images, {n_test} test), "
          f"{'tiny' if args.size == 'small' else 'full-size'} random models, {device}, {size['dtype']}; decode "
          f"{size['steps']} DDIM steps")
    print("| stage | seconds | images | images/s |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        rate = f"{r['images_per_second']:.1f}" if r["images"] else "-"
        print(f"| {name} | {r['seconds']:.1f} | {r['images'] or '-'} | {rate} |")
    print(f"| all | {total:.1f} | | |")
    path = write_json(args.json or f"benchmarks/results/bench_pipeline_{args.size}.json",
                      {"config": vars(args), "size": size, "device": device, "stages": rows, "total_seconds": total,
                       "versions": versions()})
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
