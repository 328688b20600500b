"""The end-to-end NSD recipe on one machine: the chain (``chain.nsd_chain``) run step by step, with its costs.

Each step is a command of this package's CLI, skipped when its output is complete and of its own source (the long
steps also resume inside), so a rerun after a failure continues where it stopped. ``--dry-run`` prints every
command with its expected time, disk and memory: disk and memory come from this package's measurements and the
manifest's sizes; GPU times are estimates from FLOP counts (docs/features.md, docs/decoding.md), marked as such.
``slurm`` runs the same chain as job arrays.

Settings follow the IP-Adapter ridge baseline (Gabor, WeADL 2025 workshop slides): ridge to the 16 x 768 IP-Adapter-Plus
tokens, subjects 1, 2, 5 and 7; the AutoKL latent is added for img2img (docs/decoding.md).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError
from ..features import REGISTRY
from ..sources.fetch_nsd import plan
from ..sources.manifest import load_manifest
from ..weights.fetch_weights import plan as weights_plan
from .steps import ChainRequest, Step, in_order, weights_needed

SUBJECTS = (1, 2, 5, 7)
FAMILIES = "ipadapter_plus,autokl"
GPU_FLOPS = 5e13  # assumed effective float16 throughput of one GPU, for the estimates only
FEATURE_FLOPS = {"ipadapter_plus": 3.3e11, "autokl": 1.1e12, "clip_text": 6.6e10, "clip_layers": 1.6e11,
                 "pixels": 0.0}  # per image, docs/features.md
DECODE_FLOPS = 6.3e13  # per image at the default settings without guidance, docs/decoding.md
N_TEST = 982  # shared1000 images seen three times by subjects 1, 2, 5 and 7
FIT_SECONDS_88K, FIT_PEAK_GB_88K = 172.6, 6.2  # benchmarks/results/bench_ridge_88k.json (2-core CPU)
IMAGES_PER_SUBJECT = 10_000  # each subject saw up to 10,000 images; shared1000 counted once per subject


# the recipe's settings, each overridable by a keyword of recipe_request
RECIPE = {"subjects": SUBJECTS, "families": FAMILIES, "decoder": "diffusion", "device": "cuda", "out": "outputs",
          "recon": "recon", "evaluation": "eval", "fetch": True, "decode_args": ()}


def recipe_request(root, weights_root=None, **settings) -> ChainRequest:
    """The chain of the NSD recipe: one extraction of the feature families (float16), then each subject's fit of
    them, decode and evaluation, and the aggregate. ``settings`` override ``RECIPE``'s (``families``
    comma-separated; ``targets``, its name before 0.2.0, warns)."""
    if "targets" in settings:
        warnings.warn("recipe_request(targets=...) is deprecated since 0.2.0 and will be removed in 0.3.0: use "
                      "recipe_request(families=...)", FutureWarning, stacklevel=2)
        settings["families"] = settings.pop("targets")
    unknown = sorted(set(settings) - set(RECIPE))
    if unknown:
        raise InputError(f"recipe settings {unknown} are not among {sorted(RECIPE)}")
    s = {**RECIPE, **settings}
    names = [t for t in s.pop("families").split(",") if t]
    return ChainRequest(data_root=root, weights_root=weights_root, subjects=list(s.pop("subjects")), families=names,
                        fit_families=names, dtype="float16", check=True, decode_args=tuple(s.pop("decode_args")), **s)


def estimate(step: Step, req: ChainRequest) -> dict:
    """What a step is expected to cost (time, disk, memory), from this package's measurements and FLOP counts."""
    if step.step == "fetch" and step.args[0] == "fetch-weights":
        keys = weights_needed(req.families, req.decoder)
        size = sum(wf.size_bytes or 0 for wf in weights_plan(keys))
        return {"disk": f"{size / 1e9:.1f} GB (manifest sizes; none if present)", "time": "network-bound (unmeasured)"}
    if step.step == "fetch":
        size = sum(it.size_bytes or 0 for it in plan(int(step.args[2])))
        return {"disk": f"{size / 1e9:.0f} GB (manifest sizes)", "time": "network-bound (unmeasured)"}
    if step.step == "extract":
        n_images = IMAGES_PER_SUBJECT * len(req.subjects)
        flops = sum(FEATURE_FLOPS.get(n, 0.0) for n in req.families) * n_images
        disk = sum(2 * int(np.prod(REGISTRY[n].shape)) for n in req.families) * n_images  # float16
        return {"gpu_time": f"~{flops / GPU_FLOPS / 60:.0f} min (estimate from FLOPs)", "disk": f"{disk / 1e9:.1f} GB",
                "memory": "a few GB of GPU memory at batch 32"}
    if step.step == "fit":
        n_targets = sum(int(np.prod(REGISTRY[t].shape)) for t in req.fit_families)
        scale = n_targets / 88_000
        voxels = max(load_manifest().subject_info(s)["n_voxels"] for s in req.subjects)
        return {"time": f"~{FIT_SECONDS_88K * (0.4 + 0.6 * scale):.0f} s per subject on 2 CPU cores (benchmark)",
                "memory": f"<= {FIT_PEAK_GB_88K:.1f} GB (benchmark at 88,000 targets)",
                "disk": f"{4 * 8859 * (n_targets + voxels + 8859) / 1e9:.1f} GB model per subject"}
    if step.step == "decode":
        return {"gpu_time": f"~{N_TEST * DECODE_FLOPS / GPU_FLOPS / 60:.0f} min (estimate from FLOPs)",
                "memory": "6-8 GB GPU (estimate)", "disk": f"~{N_TEST * 0.25e6 / 1e9:.2f} GB PNG"}
    if step.step == "evaluate":
        return {"gpu_time": "a few minutes (estimate)", "memory": "2-4 GB"}
    return {"time": "seconds"}


def format_dry_run(steps: list[Step], req: ChainRequest) -> str:
    """Each command with its expected cost, and whether it would be skipped."""
    todo = {(s.name, t) for s, t in in_order(steps)}
    lines, k = [], 0
    for st in steps:
        cost = ", ".join(f"{key} {val}" for key, val in estimate(st, req).items())
        for task in st.tasks():
            k += 1
            state = "to run" if (st.name, task) in todo else "done, skipped"
            lines.append(f"{k:>2}. [{state}] python -m ridge_decode.cli {' '.join(st.argv(task))}\n      {cost}")
    return "\n".join(lines)


def run(steps: list[Step], invoke, echo=print) -> None:
    """Run the chain here: every (step, task) not complete, in order; ``invoke(argv)`` runs one command line."""
    todo = {(s.name, t) for s, t in in_order(steps)}
    everything = [(s, t) for s in steps for t in s.tasks()]
    for k, (st, task) in enumerate(everything, 1):
        if (st.name, task) not in todo:
            echo(f"[{k}/{len(everything)}] {st.name}{'' if task is None else f' task {task}'}: already done, skipped")
            continue
        argv = st.argv(task)
        echo(f"[{k}/{len(everything)}] {st.name}: {' '.join(argv)}")
        invoke(argv)
