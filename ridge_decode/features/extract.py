"""Running a feature family over many images: batches in sorted id order, resumable, shardable.

The caller supplies how to read a batch (``read_images(ids)`` -> uint8 (n, H, W, 3); ``read_captions(ids)`` ->
list of caption lists), so this stage needs to know nothing about NSD's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import InputError
from ..io import versions
from .registry import REGISTRY
from .store import FeatureStore

DTYPES = ("float32", "float16")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/N"`` -> (i, N) with 0 <= i < N; None stays None."""
    if text is None:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise InputError(f"--shard takes i/N (e.g. 0/4); got {text!r}") from None
    if not 0 <= i < n:
        raise InputError(f"--shard {text}: need 0 <= i < N")
    return i, n


def shard_ids(ids: np.ndarray, shard: tuple[int, int] | None) -> np.ndarray:
    """The ``i``-th of ``N`` contiguous, near-equal runs of the sorted ``ids`` (deterministic)."""
    return ids if shard is None else np.array_split(ids, shard[1])[shard[0]]


@dataclass(frozen=True)
class ExtractOptions:
    """How a family is run: where its weights are, on which device, stored dtype, batch size, shard, progress bar."""

    weights_root: str | Path | None = None
    device: str = "cpu"
    dtype: str = "float32"
    batch_size: int = 32
    shard: tuple[int, int] | None = None
    progress: bool = True


def extract_family(name: str, ids, store: FeatureStore, *, read_images=None, read_captions=None,
                   **options) -> Path:
    """Compute family ``name`` for ``ids`` (or one shard of them) into ``store``; returns the file written.

    ``options`` are the fields of :class:`ExtractOptions`. Resumes a previous ``.part`` of the same plan; at most
    the batch being computed is lost to a crash.
    """
    opts = ExtractOptions(**options)
    weights_root, device, dtype, batch_size, shard, progress = (opts.weights_root, opts.device, opts.dtype,
                                                               opts.batch_size, opts.shard, opts.progress)
    if name not in REGISTRY:
        raise InputError(f"unknown feature family {name!r}; known: {sorted(REGISTRY)}")
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {DTYPES}; got {dtype!r}")
    if int(batch_size) < 1:
        raise InputError(f"--batch-size must be positive; got {batch_size}")
    family = REGISTRY[name]
    reader = read_images if family.inputs == "images" else read_captions
    if reader is None:
        raise InputError(f"family {name!r} reads {family.inputs}, and none were given (captions need an NSD-layout "
                         "data root)")
    all_ids = np.unique(np.asarray(ids, dtype=np.int64))
    mine = shard_ids(all_ids, shard)
    extractor = family.make(weights_root, device=device, dtype=dtype)
    attrs = {"family": name, "description": family.description, "shape": list(extractor.shape),
             "dtype": dtype, "files": extractor.files, "preprocessing": extractor.preprocessing,
             "ridge_decode": versions().get("ridge_decode", "unknown")}
    if shard is not None:
        attrs["shard"] = list(shard)
    with store.writer(name, mine, extractor.shape, dtype, batch_size, attrs, shard, all_ids) as writer:
        for key, value in extractor.extras().items():
            writer.put(key, value)
        pending = writer.pending()
        bar = tqdm(total=sum(len(b) for _, b in pending), desc=name, unit="img", disable=not progress)
        for k, batch in pending:
            inputs = reader(batch)
            out = extractor(inputs) if family.inputs == "images" else extractor(inputs, ids=batch)
            writer.write(k, out)
            bar.update(len(batch))
        bar.close()
    return writer.path
