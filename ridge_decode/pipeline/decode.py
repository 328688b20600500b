"""The decode stage: a fit's (or a prediction's) predicted targets turned into images, resumably."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import plots
from ..decode import DECODERS, DecodeContext
from ..errors import DataError, InputError, NoImagesError
from ..features.extract import parse_shard, shard_ids
from ..images import resize_images
from ..results import Predictions
from ..runtime import layout
from ..runtime.io import file_signature, versions, write_json
from ..runtime.machine import require_device
from ..runtime.runs import MARKER, FolderLock, claim, write_marker
from ..sources import Source
from ..sources.manifest import resolve_weights_root
from .common import feature_store, same_source, writing


@dataclass
class DecodeRequest:
    """Turn one fit's test predictions into images (see ``decode --help``); sampler knobs as ``SamplerConfig``."""

    source: Source  # the seen images (for the grid and the size), the weights root and the feature cache
    model_dir: str | Path | None = None
    features_dir: str | Path | None = None
    weights_root: str | Path | None = None
    out: str | Path | None = None
    decoder: str = "diffusion"
    ids: list[int] | None = None
    n_images: int | None = None
    batch_size: int = 4
    samples: int = 1
    text: str = "empty"  # or "predicted": the predicted clip_text tokens as the prompt
    device: str = "cpu"
    dtype: str = "float32"
    shard: str | None = None
    sampler: object = None  # a decode.diffusion.SamplerConfig (default: its defaults)
    progress: bool = True


@dataclass
class DecodeResult:
    """Where the images went, how many were decoded and how many were already there."""

    folder: Path
    n_images: int
    n_skipped: int


def decode_subject(req: DecodeRequest) -> DecodeResult:
    """Write ``<out>/<73k id>.png`` per test image (and per sample), ``grid.png`` and ``config.json``; resumable."""
    require_device(req.device)
    model_dir = layout.fit_dir(req.source.label, req.model_dir)
    out = layout.recon_dir(req.source.label, req.out)
    pred = Predictions.load(model_dir)
    same_source(pred.source, req.source, "predictions", pred.path)
    what = "--out" if req.out is not None else "the decode folder"
    claim(out, "decode", what)  # a folder of images not ours (the stimuli) is never counted as decoded
    ids = pred.ids
    rows = np.arange(len(ids)) if not req.ids else pred.rows(list(dict.fromkeys(req.ids)))
    if req.n_images is not None:
        rows = rows[: req.n_images]
    rows = shard_ids(rows, parse_shard(req.shard))
    stimuli = _seen_images(req.source, ids[rows])
    size = None if stimuli is None else stimuli.shape[1]
    config = {"label": req.source.label, "decoder": req.decoder, "model_dir": str(model_dir),
              "predictions": file_signature(pred.path), "n_images": len(rows), "samples": req.samples,
              "seed": getattr(req.sampler, "seed", 0), "shard": req.shard, "source": req.source.identity(),
              "versions": versions()}
    wroot = resolve_weights_root(req.weights_root, req.source.root)
    decoder = _decoder(req)
    missing = [g for g in decoder.needs if g not in pred.pred]
    if missing:
        raise DataError(f"the {decoder.name} decoder needs the predicted groups {list(decoder.needs)}; {pred.path} "
                        f"has {sorted(pred.pred)}: refit with --families {','.join(decoder.needs)}")
    make, extra = decoder.build(DecodeContext(pred, size, feature_store(req.features_dir, req.source), wroot,
                                                    req.device, req.dtype, req.sampler, req.text, out))
    config.update(extra)
    # shards of one decode share the folder (a SLURM array): each shard is locked on its own
    with FolderLock(out, tag=f"shard-{(req.shard or 'all').replace('/', '-of-')}", what=what) as lock:
        claim(out, "decode", what)
        _same_decode(out, config)
        with writing(out):
            todo = _write_images(req, out, config, make, ids, rows, size, lock.run_id)
            _grid(req, out, stimuli, ids, rows)
    return DecodeResult(out, len(rows), len(rows) - len(todo))


def _decoder(req: DecodeRequest):
    """The registered decoder of ``req`` (an ``InputError`` naming the known ones otherwise)."""
    if req.decoder not in DECODERS:
        raise InputError(f"unknown decoder {req.decoder!r}; known: {sorted(DECODERS)}")
    return DECODERS[req.decoder]


def _seen_images(source: Source, ids):
    """The source's images when it has them (None: decode needs no ground truth), holding every id to decode."""
    try:
        stimuli = source.images()
    except NoImagesError:
        return None
    absent = np.setdiff1d(ids, stimuli.ids)
    if len(absent):
        raise DataError(f"{stimuli.path} has no image for {len(absent)} of the predicted test ids, e.g. "
                        f"{absent[:5].tolist()}: decode with the stimuli the fit used")
    return stimuli


def _write_images(req: DecodeRequest, out: Path, config: dict, make, ids, rows, size, run_id: str) -> list:
    """Decode the images not yet in ``out``, a batch at a time; returns the rows decoded now."""
    todo = [r for r in rows if not all((out / layout.recon_name(ids[r], k)).exists() for k in range(req.samples))]
    out.mkdir(parents=True, exist_ok=True)
    if not (out / MARKER).exists():  # the folder is a decode's from its first image on (runs.claim)
        write_marker(out, "decode", run_id)
    write_json(out / layout.DECODE_CONFIG, config)
    bar = tqdm(total=len(todo) * req.samples, desc=f"decode ({req.decoder})", unit="img", disable=not req.progress)
    for a in range(0, len(todo), req.batch_size):
        batch = list(todo[a : a + req.batch_size])
        for k in range(req.samples):
            for r, img in zip(batch, make(batch, k), strict=True):
                layout.save_png(img if size is None else resize_images(img, size), out / layout.recon_name(ids[r], k))
            bar.update(len(batch))
    bar.close()
    return todo


def _grid(req: DecodeRequest, out: Path, stimuli, ids, rows) -> None:
    """``grid.png``: the first ten seen images above their reconstructions (the reconstructions alone without
    ground truth)."""
    shown = rows[:10]
    recons = np.stack([layout.load_png(out / layout.recon_name(ids[r])) for r in shown])
    seen = "seen (top) and " if stimuli is not None else ""
    plots.plot_reconstructions(recons, None if stimuli is None else stimuli.read(ids[shown]), ids[shown],
                              out / layout.GRID, title=f"{req.source.label}: {seen}decoded by {req.decoder}")


# what a decode's images depend on: a folder holding images made with other values would mix two runs
DECODE_IDENTITY = ("decoder", "decoder_name", "predictions", "samples", "seed", "steps", "strength", "cfg", "ip_scale",
                   "text", "kappa", "eta", "dtype", "weights_root", "source")


def _same_decode(out: Path, config: dict) -> None:
    """Refuse to add images to ``out`` if its ``config.json`` is of a decode with other inputs or settings."""
    path = out / layout.DECODE_CONFIG
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text())
    except ValueError:
        raise DataError(f"{path} is not valid JSON: delete {out} or choose another --out") from None
    differ = [k for k in DECODE_IDENTITY if old.get(k) != config.get(k)]
    if differ:
        raise InputError(f"--out {out} holds reconstructions of another decode ({', '.join(differ)} differ from "
                         f"{path}): choose another --out, or delete that folder to decode anew")
