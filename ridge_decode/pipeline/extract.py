"""The extract stage: feature families of a source's images into its feature cache."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, InputError
from ..features import REGISTRY, FeatureStore
from ..features.extract import extract_families, parse_shard
from ..runtime.machine import require_device
from ..runtime.runs import FolderLock
from ..sources import Source
from ..sources.manifest import resolve_weights_root
from .common import feature_store


@dataclass
class ExtractRequest:
    """Which feature families to compute for which images of ``source``, and where (see ``extract-features --help``)."""

    families: list[str]
    source: Source
    features_dir: str | Path | None = None
    weights_root: str | Path | None = None
    subjects: list[int] | None = None  # NSD: the images these subjects saw
    ids: str | None = None  # "all", "a,b,c" or "start:stop"
    device: str = "cpu"
    dtype: str = "float32"
    batch_size: int = 32
    shard: str | None = None
    progress: bool = True


def select_ids(ids_text: str | None, source: Source, subjects=None) -> np.ndarray:
    """The ids to extract: a subset from ``ids_text``, else the source's default images (``Source.image_ids``)."""
    if ids_text is None:
        return source.image_ids(subjects)
    if ids_text == "all":
        return np.unique(source.images().ids)
    try:
        if ":" in ids_text:
            a, b = ids_text.split(":")
            return np.arange(int(a), int(b))
        return np.unique([int(v) for v in ids_text.split(",") if v.strip()])
    except ValueError:
        raise InputError(f"--ids takes 'all', 'a,b,c' or 'start:stop'; got {ids_text!r}") from None


def extract_features(source: Source, families, features_dir=None, weights_root=None, device: str = "cpu",
                     batch_size: int = 32, progress: bool = True):
    """Compute feature families of a source's images into its feature cache, skipping those already there.

    Parameters
    ----------
    source : NSDSource, NiftiSource or HDF5Source
        Whose images to compute features of.
    families : list of str
        Names of ``ridge_decode.features.REGISTRY``, e.g. ``["pixels"]``. Per image: ``pixels`` (32, 32, 3) RGB
        in [0, 1]; ``autokl`` (4, 64, 64) the scaled VAE latent; ``ipadapter_plus`` (16, 768); ``clip_text``
        (77, 768); ``clip_layers`` (4, 5, 1024). Every family but ``pixels`` needs model weights.
    features_dir : str or Path, optional
        The cache folder; default the source's (``<data root>/features`` for NSD).
    weights_root : str or Path, optional
        The folder of local model weights (``fetch-weights``).
    device : str
        Where the models run ("cpu", "cuda").
    batch_size : int
        Images per forward pass.
    progress : bool
        Show a progress bar.

    Returns
    -------
    FeatureStore
        The cache: ``.read(family, ids)`` gives an array (len(ids), ...) of the family's shape, in the dtype it was
        stored in (float32 here; ``extract-features --dtype float16`` stores half), rows in the order of ``ids``.
    """
    store = feature_store(features_dir, source)
    ids = source.image_ids()
    todo = [f for f in families if not store.complete(f, ids)]
    if todo:
        run_extract(ExtractRequest(todo, source, features_dir=features_dir, weights_root=weights_root, device=device,
                                   batch_size=batch_size, progress=progress))
    return store


def run_extract(req: ExtractRequest) -> dict[str, Path]:
    """Compute each family of ``req`` into the feature cache; returns {family: file written}."""
    require_device(req.device)
    unknown = [n for n in req.families if n not in REGISTRY]
    if unknown:
        raise InputError(f"unknown feature families {unknown}; known: {sorted(REGISTRY)}")
    wroot = resolve_weights_root(req.weights_root, req.source.root)
    store = feature_store(req.features_dir, req.source)
    stimuli = req.source.images()
    ids = select_ids(req.ids, req.source, req.subjects)
    known = set(stimuli.ids.tolist())
    absent = [int(i) for i in ids if int(i) not in known]
    if absent:
        raise DataError(f"{stimuli.path} has no image for ids {absent[:10]}{' ...' if len(absent) > 10 else ''}")
    # the caption files are parsed once, not once per batch
    captions = req.source.captions() if any(REGISTRY[n].inputs == "captions" for n in req.families) else None
    shard = parse_shard(req.shard)
    with ExitStack() as locks:
        for name in req.families:  # one run per family (and shard) at a time: a second would clobber its .part
            tag = name if shard is None else f"{name}.shard-{shard[0]}-of-{shard[1]}"
            locks.enter_context(FolderLock(store.features_dir, what="--features-dir", tag=tag))
        # one pass over the images for every family asked for: each batch is read once
        return extract_families(list(req.families), ids, store, read_images=stimuli.read, read_captions=captions,
                                weights_root=wroot, device=req.device, dtype=req.dtype, batch_size=req.batch_size,
                                shard=shard, progress=req.progress)


def merge_feature_shards(families, features_dir) -> dict[str, Path]:
    """Join each family's shard files into one; returns {family: merged file}."""
    store = FeatureStore(features_dir)
    return {name: store.merge_shards(name) for name in families}
