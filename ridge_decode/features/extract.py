"""Running a feature family over many images: batches in sorted id order, resumable, shardable.

The caller supplies how to read a batch (``read_images(ids)`` -> uint8 (n, H, W, 3); ``read_captions(ids)`` ->
list of caption lists), so this stage needs to know nothing about NSD's files.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import InputError
from ..images import image_hashes
from ..runtime.io import versions
from ..runtime.overlap import run
from .cache import FeatureStore
from .preprocess import pinned
from .registry import REGISTRY

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
    """Compute family ``name`` for ``ids`` (or one shard of them) into ``store``; returns the file written
    (``extract_families`` with one family)."""
    return extract_families([name], ids, store, read_images=read_images, read_captions=read_captions,
                            **options)[name]


def extract_families(names, ids, store: FeatureStore, *, read_images=None, read_captions=None, overlap: bool = True,
                     **options) -> dict[str, Path]:
    """Compute every family of ``names`` for ``ids`` (or one shard of them) into ``store``, in one pass over the
    images: each batch is read once (and its captions once), and every family that still needs it gets it.
    Returns {family: file written}.

    ``options`` are the fields of :class:`ExtractOptions`. With ``overlap``, the next batch is read on a reader
    thread and the previous one written on a writer thread while a batch computes (``ridge_decode.runtime.overlap``);
    batches are written in order, and each family's file is marked done batch by batch, so an interrupted
    extraction resumes every family where it stopped and loses at most the batch being computed.
    """
    opts = ExtractOptions(**options)
    _check_options(names, opts, read_images, read_captions)
    wanted = np.unique(np.asarray(ids, dtype=np.int64))
    # A family's file serves every subject (every image) of its root: only the ids it lacks are extracted, and
    # then added to it, never replacing the rows of other ids. Families lacking the same ids share one pass.
    done, lacking = {}, {}
    for name in names:
        if store.addition_path(name).exists():  # an addition finished, but its joining was interrupted
            store.add(name)
        lack = store.missing(name, wanted)
        if len(lack):
            lacking.setdefault(lack.tobytes(), (lack, []))[1].append(name)
        else:
            done[name] = store.path(name)
    for lack, group in lacking.values():
        done.update(_extract_pass(group, lack, store, opts, read_images, read_captions, overlap))
    return {name: done[name] for name in names}


def _extract_pass(names, all_ids, store: FeatureStore, opts: ExtractOptions, read_images, read_captions,
                  overlap: bool) -> dict[str, Path]:
    """One pass over the images ``all_ids`` (or this shard's part of them) for every family of ``names``."""
    mine = shard_ids(all_ids, opts.shard)
    with ExitStack() as stack:
        runs, adding = {}, {}
        for name in names:
            adding[name] = store.exists(name) and opts.shard is None
            family, extractor = REGISTRY[name], REGISTRY[name].make(opts.weights_root, device=opts.device,
                                                                   dtype=opts.dtype)
            writer = stack.enter_context(store.writer(name, mine, extractor.shape, opts.dtype, opts.batch_size,
                                                      _attrs(name, family, extractor, opts), opts.shard, all_ids,
                                                      addition=adding[name]))
            for key, value in extractor.extras().items():
                writer.put(key, value)
            runs[name] = (family, extractor, writer, {k for k, _ in writer.pending()})
        batches = [(k, b) for k, b in enumerate(_batches(mine, opts.batch_size))
                   if any(k in todo for *_, todo in runs.values())]
        bar = tqdm(total=sum(len(b) for _, b in batches), desc="+".join(names), unit="img",
                   disable=not opts.progress)

        def read(item):
            k, batch = item
            wanted = {runs[n][0].inputs for n in runs if k in runs[n][3]}
            images = read_images(batch) if "images" in wanted else None
            return {"images": pinned(images, opts.device), "hashes": None if images is None else image_hashes(images),
                    "captions": read_captions(batch) if "captions" in wanted else None}

        def compute(item, inputs):
            k, batch = item
            out = {}
            for name, (family, extractor, _, todo) in runs.items():
                if k in todo:
                    x = inputs[family.inputs]
                    # a family of the images records each image's fingerprint beside its features
                    out[name] = ((extractor(x), inputs["hashes"]) if family.inputs == "images"
                                 else (extractor(x, ids=batch), None))
            return out

        def write(item, out):
            for name, (features, hashes) in out.items():
                runs[name][2].write(item[0], features, hashes)
            bar.update(len(item[1]))

        run(batches, read, compute, write, overlap=overlap)
        bar.close()
    return {name: store.add(name) if adding[name] else runs[name][2].path for name in names}


def _batches(ids: np.ndarray, size: int) -> list[np.ndarray]:
    return [ids[a : a + size] for a in range(0, len(ids), size)]


def _check_options(names, opts: ExtractOptions, read_images, read_captions) -> None:
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise InputError(f"unknown feature families {unknown}; known: {sorted(REGISTRY)}")
    if opts.dtype not in DTYPES:
        raise InputError(f"dtype must be one of {DTYPES}; got {opts.dtype!r}")
    if int(opts.batch_size) < 1:
        raise InputError(f"--batch-size must be positive; got {opts.batch_size}")
    for name in names:
        family = REGISTRY[name]
        if (read_images if family.inputs == "images" else read_captions) is None:
            raise InputError(f"family {name!r} reads {family.inputs}, and none were given (captions need an "
                             "NSD-layout data root)")


def _attrs(name: str, family, extractor, opts: ExtractOptions) -> dict:
    """What a family's file records of how it was made."""
    attrs = {"family": name, "description": family.description, "shape": list(extractor.shape),
             "dtype": opts.dtype, "files": extractor.files, "preprocessing": extractor.preprocessing,
             "ridge_decode": versions().get("ridge_decode", "unknown")}
    if opts.shard is not None:
        attrs["shard"] = list(opts.shard)
    return attrs
