"""The end-to-end NSD recipe: fetch, check, extract, fit, decode, evaluate each subject, then aggregate.

Each step is a command of this package's CLI, skipped when its output already exists (the long steps also resume
inside), so a rerun after a failure continues where it stopped. ``--dry-run`` prints every command with its
expected time, disk and memory: disk and memory come from this package's measurements and the manifest's sizes;
GPU times are estimates from FLOP counts (docs/features.md, docs/decoding.md), marked as such.

Settings follow the IP-Adapter ridge baseline (Gabor, WeADL 2025 workshop slides): ridge to the 16 x 768 IP-Adapter-Plus
tokens, subjects 1, 2, 5 and 7; the AutoKL latent is added for img2img (docs/decoding.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .sources import NSDSource

SUBJECTS = (1, 2, 5, 7)
TARGETS = "ipadapter_plus,autokl"
GPU_FLOPS = 5e13  # assumed effective float16 throughput of one GPU, for the estimates only
FEATURE_FLOPS = {"ipadapter_plus": 3.3e11, "autokl": 1.1e12, "clip_text": 6.6e10, "clip_layers": 1.6e11,
                 "pixels": 0.0}  # per image, docs/features.md
DECODE_FLOPS = 6.3e13  # per image at the default settings without guidance, docs/decoding.md
N_TEST = 982  # shared1000 images seen three times by subjects 1, 2, 5 and 7
FIT_SECONDS_88K, FIT_PEAK_GB_88K = 171.0, 6.1  # benchmarks/results/bench_ridge_88k.json (2-core CPU)


@dataclass
class Step:
    """One command of the recipe, when it counts as done, and what it is expected to cost."""

    name: str
    argv: list[str]
    done: Callable[[], bool]
    estimate: dict = field(default_factory=dict)


def _estimate_features(targets: str, n_images: int) -> dict:
    from .features import REGISTRY

    names = [t for t in targets.split(",") if t]
    flops = sum(FEATURE_FLOPS.get(n, 0.0) for n in names) * n_images
    disk = sum(2 * int(np.prod(REGISTRY[n].shape)) for n in names) * n_images  # float16
    return {"gpu_time": f"~{flops / GPU_FLOPS / 60:.0f} min (estimate from FLOPs)", "disk": f"{disk / 1e9:.1f} GB",
            "memory": "a few GB of GPU memory at batch 32"}


@dataclass
class Recipe:
    """What the NSD recipe runs: the subjects and families, the roots, the output folders and the decoder."""

    root: str | Path
    weights_root: str | Path | None = None
    subjects: tuple = SUBJECTS
    targets: str = TARGETS
    out: str | Path = "outputs"
    recon: str | Path = "recon"
    evaluation: str | Path = "eval"
    decoder: str = "diffusion"
    device: str = "cuda"
    fetch: bool = True
    decode_args: tuple = ()


def nsd_steps(recipe: Recipe) -> list[Step]:
    """The recipe's steps for its subjects under its data root."""
    from . import layout
    from .features import REGISTRY, FeatureStore
    from .fetch import plan
    from .manifest import load_manifest

    root, out, recon, evaluation = (Path(p) for p in (recipe.root, recipe.out, recipe.recon, recipe.evaluation))
    weights_root, subjects, targets = recipe.weights_root, recipe.subjects, recipe.targets
    decoder, device, fetch, decode_args = recipe.decoder, recipe.device, recipe.fetch, recipe.decode_args
    manifest = load_manifest()
    nsd = NSDSource(root, None)
    store = FeatureStore(layout.features_dir(None, nsd.default_features_dir()), provenance=nsd.provenance())
    wr = ["--weights-root", str(weights_root)] if weights_root else []
    steps: list[Step] = []
    n_targets = sum(int(np.prod(REGISTRY[t].shape)) for t in targets.split(","))
    for s in subjects:
        if fetch:
            size = sum(it.size_bytes or 0 for it in plan(s))
            steps.append(Step(f"fetch subject {s}", ["fetch-nsd", "--subject", str(s), "--dest", str(root)],
                              lambda s=s: _subject_present(root, s),
                              {"disk": f"{size / 1e9:.0f} GB (manifest sizes)", "time": "network-bound (unmeasured)"}))
        steps.append(Step(f"check subject {s}", ["check-data", "--data-root", str(root), "--subject", str(s)],
                          lambda: False, {"time": "seconds"}))
    n_images = 10_000 * len(subjects)  # each subject saw up to 10,000 images; shared1000 counted once per subject
    steps.append(Step("extract features", ["extract-features", "--features", targets, "--data-root", str(root),
                                           "--subjects", ",".join(map(str, subjects)), "--device", device,
                                           "--dtype", "float16", *wr],
                      lambda: all(store.complete(t) for t in targets.split(",")),
                      _estimate_features(targets, n_images)))
    for s in subjects:
        info = manifest.subject_info(s)
        fit, rec, ev = (layout.subject_dir(base, s) for base in (out, recon, evaluation))
        who = _identity(root, s)
        scale = n_targets / 88_000
        steps.append(Step(f"fit subject {s}", ["fit", "--subject", str(s), "--data-root", str(root), "--targets",
                                               targets, "--out", str(out)],
                          lambda fit=fit, who=who: layout.fit_done(fit, who(), targets.split(",")),
                          {"time": f"~{FIT_SECONDS_88K * (0.4 + 0.6 * scale):.0f} s on 2 CPU cores (benchmark)",
                           "memory": f"<= {FIT_PEAK_GB_88K:.1f} GB (benchmark at 88,000 targets)",
                           "disk": f"{4 * 8859 * (n_targets + info['n_voxels'] + 8859) / 1e9:.1f} GB model"}))
        steps.append(Step(f"decode subject {s}", ["decode", "--subject", str(s), "--data-root", str(root),
                                                  "--model-dir", str(fit), "--out", str(rec),
                                                  "--decoder", decoder, "--device", device, *wr, *decode_args],
                          lambda rec=rec, who=who: layout.decode_done(rec, who()),
                          {"gpu_time": f"~{N_TEST * DECODE_FLOPS / GPU_FLOPS / 60:.0f} min (estimate from FLOPs)",
                           "memory": "6-8 GB GPU (estimate)", "disk": f"~{N_TEST * 0.25e6 / 1e9:.2f} GB PNG"}))
        steps.append(Step(f"evaluate subject {s}", ["evaluate", "--subject", str(s), "--data-root", str(root),
                                                    "--recon-dir", str(rec), "--model-dir", str(fit),
                                                    "--out", str(ev), *wr],
                          lambda ev=ev, who=who: layout.evaluate_done(ev, who()),
                          {"gpu_time": "a few minutes (estimate)", "memory": "2-4 GB"}))
    steps.append(Step("aggregate", ["evaluate", "--aggregate",
                                    *[str(layout.subject_dir(evaluation, s)) for s in subjects],
                                    "--out", str(evaluation / "mean")],
                      lambda: (evaluation / "mean" / layout.REPORT).exists(), {"time": "seconds"}))
    return steps


def _identity(root, subject: int) -> Callable[[], dict]:
    """The identity of NSD subject ``subject`` under ``root``, computed when first asked (it reads the stimuli)."""
    cached: list[dict] = []

    def get() -> dict:
        if not cached:
            cached.append(NSDSource(root, subject).identity())
        return cached[0]

    return get


def _subject_present(root: Path, subject: int) -> bool:
    from .check import check_data

    return all(r.status == "present" for r in check_data(root, (subject,)))


def format_dry_run(steps: list[Step]) -> str:
    """Each command with its expected cost, and whether it would be skipped."""
    lines = []
    for k, st in enumerate(steps, 1):
        cost = ", ".join(f"{key} {val}" for key, val in st.estimate.items())
        state = "done, skipped" if st.done() else "to run"
        lines.append(f"{k:>2}. [{state}] python -m ridge_decode.cli {' '.join(st.argv)}\n      {cost}")
    return "\n".join(lines)
