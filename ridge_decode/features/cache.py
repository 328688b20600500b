"""The on-disk feature cache: one HDF5 file per family, ``<features dir>/<name>.h5``.

Each file holds ``ids`` (sorted 0-based 73k ids, int64), ``features`` of shape (len(ids), ...) and attributes
recording how the features were made (``made_by``, JSON). Files appear atomically: a long extraction writes
``<name>.h5.part`` batch by batch and resumes from it (see ``FeatureWriter``); a sharded one writes
``<name>.shard-I-of-N.h5`` files that ``merge_shards`` joins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataFileError, DataFormatError, InputError, InputIndexError, MissingFeaturesError
from ..images import image_hashes
from ..runtime.io import RESERVE_BYTES, atomic_path, file_signature, resumable_h5
from ..runtime.machine import require_space, writable

READ_BLOCK_ROWS = 2048  # cached rows read per block when selecting a subject's rows
HASHES = "image_hashes"  # each image's fingerprint as it was extracted (0: not recorded)
CHECK_BLOCK_IMAGES = 256  # images read at a time when checking their fingerprints
MERGE_BLOCK_ROWS = 1024  # rows copied per block when merging shards


class FeatureStore:
    """Read and write cached feature families under ``features_dir``: one HDF5 file per family, rows keyed by image
    id.

    Parameters
    ----------
    features_dir : str or Path
        The cache folder (``<name>.h5`` per family).
    provenance : dict, optional
        ``{"images": fingerprint, "source": text}``, from the source of the run: recorded in every file written,
        and checked on every file read, so that a cache made from other images is an error naming both sources.

    Notes
    -----
    ``read(name, ids)`` gives family ``name``'s features of the integer image ids ``ids`` (n,), in that order, as
    an array (len(ids), ...) in the stored dtype (float32 unless extracted as float16): ``pixels``
    (n, 32, 32, 3) in [0, 1], ``autokl`` (n, 4, 64, 64), ``ipadapter_plus`` (n, 16, 768), ``clip_text``
    (n, 77, 768), ``clip_layers`` (n, 4, 5, 1024).
    """

    def __init__(self, features_dir: str | Path, provenance: dict | None = None):
        self.features_dir = Path(features_dir)
        self.provenance = provenance if provenance and provenance.get("images") else None

    def _stamp(self, attrs: dict | None) -> dict:
        return {**(attrs or {}), **({"provenance": self.provenance} if self.provenance else {})}

    def complete(self, name: str, ids=None) -> bool:
        """Family ``name`` is cached, from this store's source's images, and holds every id of ``ids`` (where
        given): what "this step is done" means."""
        try:
            self.check_provenance(name)
        except DataFormatError:
            return False
        if not self.exists(name):
            return False
        try:
            return ids is None or not len(self.missing(name, ids))
        except OSError:  # unreadable: not done
            return False

    def check_provenance(self, name: str) -> None:
        """Stop when family ``name``'s file was computed from other images than this store's source's."""
        path = self.path(name)
        if self.provenance is None or not path.exists():
            return
        with h5py.File(path, "r") as f:
            made = json.loads(f.attrs.get("made_by", "{}")).get("provenance")
        if made and made.get("images") != self.provenance["images"]:
            raise DataFormatError(f"{path} was computed from the images of {made.get('source')}; this run reads "
                                  f"{self.provenance['source']}, whose images differ: give this source its own "
                                  f"--features-dir (or delete {path} to compute it anew)")

    def path(self, name: str) -> Path:
        """File of family ``name``."""
        return self.features_dir / f"{name}.h5"

    def exists(self, name: str) -> bool:
        """Whether family ``name`` is cached."""
        return self.path(name).exists()

    def write(self, name: str, ids, features: np.ndarray, attrs: dict | None = None) -> Path:
        """Cache ``features`` (n, ...) for ``ids`` (n,); rows are stored sorted by id."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(features):
            raise InputError(f"{len(ids)} ids but {len(features)} feature rows for family {name!r}")
        if len(np.unique(ids)) != len(ids):
            raise InputError(f"family {name!r}: ids must be unique")
        order = np.argsort(ids)
        self.check_provenance(name)
        with atomic_path(self.path(name)) as tmp, h5py.File(tmp, "w") as f:
            f["ids"] = ids[order]
            f.create_dataset("features", data=np.asarray(features)[order], chunks=True)
            f.attrs["made_by"] = json.dumps(self._stamp(attrs))
        return self.path(name)

    def ids(self, name: str) -> np.ndarray:
        """Sorted ids cached for family ``name``."""
        with h5py.File(self._require(name), "r") as f:
            return f["ids"][()]

    def attrs(self, name: str) -> dict:
        """How family ``name`` was made."""
        with h5py.File(self._require(name), "r") as f:
            return json.loads(f.attrs.get("made_by", "{}"))

    def read(self, name: str, ids) -> np.ndarray:
        """Features of ``ids`` in that order, shape (len(ids), ...); a KeyError lists ids not cached."""
        return self.rows(name, ids)[:]

    def rows(self, name: str, ids) -> FeatureRows:
        """A lazy (len(ids), ...) view of family ``name`` for ``ids``: slicing it reads only what is asked for.

        The ridge engine reads its targets through this view one chunk of columns at a time, so a subject's
        training targets are never loaded whole. A KeyError lists ids that are not cached.
        """
        ids = np.asarray(ids, dtype=np.int64)
        path = self._require(name)
        with h5py.File(path, "r") as f:
            cached = f["ids"][()]
            shape, dtype = f["features"].shape, f["features"].dtype
        pos = np.searchsorted(cached, ids)
        pos_c = np.clip(pos, 0, max(len(cached) - 1, 0))
        missing = ids[(pos >= len(cached)) | (cached[pos_c] != ids)] if len(cached) else ids
        if len(missing):
            raise self.missing_error(name, missing)
        return FeatureRows(path, pos_c, (len(ids),) + tuple(shape[1:]), dtype)

    def missing(self, name: str, ids) -> np.ndarray:
        """The ids of ``ids`` that family ``name``'s file does not hold (sorted; every id when it is absent)."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        if not self.exists(name):
            return ids
        return np.setdiff1d(ids, self.ids(name))

    def missing_error(self, name: str, missing, command: str | None = None) -> MissingFeaturesError:
        """The error for ids of family ``name`` that its file lacks: which ids, and the command that adds them
        (``command``, else an ``extract-features`` of those ids into this cache)."""
        missing = np.asarray(missing, dtype=np.int64)
        listed = str(missing[:10].tolist()) + (" ..." if len(missing) > 10 else "")
        command = command or (f"python scripts/extract_features.py --families {name} --features-dir "
                              f"{self.features_dir} --ids {','.join(map(str, missing.tolist()))} (with the data "
                              "options of those images)")
        return MissingFeaturesError(f"{self.path(name)} holds no features for {len(missing)} of the images asked "
                                    f"for (ids {listed}): extraction adds them to the cache, keeping the others:\n"
                                    f"    {command}")

    def check_images(self, name: str, ids, read_images) -> None:
        """Stop when an image of ``ids`` is no longer the one family ``name`` was extracted from: its fingerprint
        (recorded per image at extraction) differs from the image ``read_images(ids)`` gives now. A cache without
        fingerprints (older, or of captions) is not checked per image."""
        ids = np.asarray(ids, dtype=np.int64)
        path = self._require(name)
        with h5py.File(path, "r") as f:
            if HASHES not in f:
                return
            cached, recorded = f["ids"][()], f[HASHES][()]
        absent = np.setdiff1d(ids, cached)
        if len(absent):  # never compare the fingerprint of another id's row
            raise self.missing_error(name, absent)
        stored = recorded[np.searchsorted(cached, ids)]
        changed = []
        for a in range(0, len(ids), CHECK_BLOCK_IMAGES):
            block = slice(a, a + CHECK_BLOCK_IMAGES)
            if not stored[block].any():
                continue
            now = image_hashes(read_images(ids[block]))
            changed += ids[block][(stored[block] != 0) & (stored[block] != now)].tolist()
        if changed:
            raise DataFormatError(f"{path} holds features of images that have changed since: ids {changed[:10]}"
                                  f"{' ...' if len(changed) > 10 else ''} ({len(changed)} in all) are not the images "
                                  f"they were extracted from. Extract {name} again (delete {path}, or give another "
                                  "--features-dir)")

    def extra(self, name: str, key: str) -> np.ndarray:
        """A constant array stored once with family ``name`` (e.g. ``negative``, IP-Adapter's negative tokens)."""
        path = self._require(name)
        with h5py.File(path, "r") as f:
            if key not in f:
                raise DataFormatError(f"{path} has no dataset {key!r} (it has {sorted(f)}): extract {name} again")
            return f[key][()]

    def addition_path(self, name: str) -> Path:
        """Where an extraction of ids that family ``name``'s file lacks is written before ``add`` joins it in."""
        return self.features_dir / f"{name}.adding.h5"

    def add(self, name: str, path: Path | None = None) -> Path:
        """Join the rows of ``path`` (default ``addition_path(name)``, a finished extraction of other ids) into
        family ``name``'s file: the union of both files' ids, sorted, written atomically; ``path`` is then removed.
        Both must be made alike (the same shape, dtype, weights and preprocessing); every id keeps its row."""
        path = Path(path or self.addition_path(name))
        main = self.path(name)
        if not main.exists():
            os.replace(path, main)
            return main
        with h5py.File(main, "r") as a, h5py.File(path, "r") as b:
            made = json.loads(a.attrs.get("made_by", "{}"))
            added = json.loads(b.attrs.get("made_by", "{}"))
            keys = ("shape", "dtype", "files", "preprocessing", "provenance")
            differ = [k for k in keys if made.get(k) != added.get(k)]
            if a["features"].shape[1:] != b["features"].shape[1:] or a["features"].dtype != b["features"].dtype:
                differ.append("array shape or dtype")
            if differ:
                raise DataFormatError(f"{main} was made otherwise than the images now added to it ({', '.join(differ)}"
                                      f" differ): extract {name} into another --features-dir, or delete {main} to "
                                      "extract every image anew")
            ids_a, ids_b = a["ids"][()], b["ids"][()]
            union = np.union1d(ids_a, ids_b)

            require_space(self.features_dir, main.stat().st_size + path.stat().st_size,
                          f"{main.name} with {len(ids_b)} images added", "--features-dir")
            with atomic_path(main) as tmp, h5py.File(tmp, "w") as out:
                out["ids"] = union
                shape, dtype = a["features"].shape[1:], a["features"].dtype
                feats = out.create_dataset("features", shape=(len(union),) + tuple(shape), dtype=dtype,
                                           chunks=(1,) + tuple(shape) if len(union) else None)
                hashes = out.create_dataset(HASHES, shape=(len(union),), dtype=np.uint64, fillvalue=0)
                for f, ids in ((a, ids_a), (b, ids_b)):  # b's rows win for ids in both (the newer extraction)
                    rows = np.searchsorted(union, ids)
                    if HASHES in f:
                        hashes[rows.tolist()] = f[HASHES][()]
                    for start in range(0, len(rows), MERGE_BLOCK_ROWS):
                        block = rows[start : start + MERGE_BLOCK_ROWS]
                        feats[block.tolist()] = f["features"][start : start + len(block)]
                for k in a:
                    if k not in ("ids", "features", "all_ids", "done", HASHES):
                        out[k] = a[k][()]
                made.setdefault("added", []).append({"n": int(len(ids_b)), "ridge_decode": added.get("ridge_decode")})
                out.attrs["made_by"] = json.dumps(made)
        path.unlink()
        return main

    def shard_path(self, name: str, shard: tuple[int, int]) -> Path:
        """File of shard ``i`` of ``n`` of family ``name``."""
        i, n = shard
        return self.features_dir / f"{name}.shard-{i}-of-{n}.h5"

    def writer(self, name: str, ids, shape: tuple, dtype, batch_size: int, attrs: dict,
               shard: tuple[int, int] | None = None, all_ids=None, addition: bool = False) -> FeatureWriter:
        """A resumable writer of family ``name`` (or of one shard of it) for the sorted ``ids``; with ``addition``,
        of ids its file lacks, into ``addition_path(name)`` (``add`` then joins them in)."""
        path = (self.shard_path(name, shard) if shard is not None else
                self.addition_path(name) if addition else self.path(name))
        self.check_provenance(name)
        return FeatureWriter(path, ids, shape, dtype, batch_size, self._stamp(attrs), all_ids=all_ids)

    def merge_shards(self, name: str) -> Path:
        """Join ``<name>.shard-*-of-N.h5`` into ``<name>.h5``, checking every planned id is present exactly once."""
        shards = sorted(self.features_dir.glob(f"{name}.shard-*-of-*.h5"))
        if not shards:
            raise DataFileError(f"no shard files {name}.shard-I-of-N.h5 under {self.features_dir}")
        counts = {int(p.name.rsplit("-of-", 1)[1][:-3]) for p in shards}
        if len(counts) != 1:
            raise DataFormatError(f"shard files of {name!r} disagree on N: {[p.name for p in shards]}")
        n = counts.pop()
        want = {self.shard_path(name, (i, n)) for i in range(n)}
        missing = sorted(str(p.name) for p in want - set(shards))
        unfinished = sorted(p.name for p in self.features_dir.glob(f"{name}.shard-*-of-{n}.h5.part"))
        if missing:
            raise DataFileError(f"{name!r}: shards {missing} are missing under {self.features_dir}"
                                    + (f" (unfinished: {unfinished}; rerun those shards)" if unfinished else ""))
        parts = [self.shard_path(name, (i, n)) for i in range(n)]
        with h5py.File(parts[0], "r") as f:
            planned = f["all_ids"][()]
            made_by = json.loads(f.attrs["made_by"])
            shape, dtype = f["features"].shape[1:], f["features"].dtype
            extras = {k: f[k][()] for k in f if k not in ("ids", "features", "all_ids", "done", HASHES)}
        ids = []
        for p in parts:
            with h5py.File(p, "r") as f:
                if not np.array_equal(f["all_ids"][()], planned):
                    raise DataFormatError(f"{p.name} was planned for other ids than {parts[0].name}: rerun it")
                if json.loads(f.attrs["made_by"]).get("provenance") != made_by.get("provenance"):
                    raise DataFormatError(f"{p.name} was computed from other images than {parts[0].name}: rerun it")
                ids.append(f["ids"][()])
        ids = np.concatenate(ids)
        uniq, counts_ = np.unique(ids, return_counts=True)
        dup = uniq[counts_ > 1]
        absent = np.setdiff1d(planned, uniq)
        if len(dup) or len(absent) or len(uniq) != len(planned):
            raise DataFormatError(f"{name!r} shards do not cover the planned ids exactly once: duplicated "
                             f"{dup[:10].tolist()}, missing {absent[:10].tolist()}")
        made_by.pop("shard", None)
        target = self.addition_path(name) if self.exists(name) else self.path(name)
        with atomic_path(target) as tmp, h5py.File(tmp, "w") as out:
            out["ids"] = planned
            feats = out.create_dataset("features", shape=(len(planned),) + tuple(shape), dtype=dtype,
                                       chunks=(1,) + tuple(shape))
            hashes = out.create_dataset(HASHES, shape=(len(planned),), dtype=np.uint64, fillvalue=0)
            for p in parts:
                with h5py.File(p, "r") as f:
                    rows = np.searchsorted(planned, f["ids"][()])
                    if HASHES in f:
                        hashes[rows.tolist()] = f[HASHES][()]
                    for a in range(0, len(rows), MERGE_BLOCK_ROWS):
                        block = rows[a : a + MERGE_BLOCK_ROWS]
                        values = f["features"][a : a + len(block)]
                        if block[-1] - block[0] + 1 == len(block):  # shards are contiguous runs of sorted ids
                            feats[block[0] : block[-1] + 1] = values
                        else:
                            feats[block.tolist()] = values
            for k, v in extras.items():
                out[k] = v
            made_by["merged_from"] = [p.name for p in parts]
            out.attrs["made_by"] = json.dumps(made_by)
        if target != self.path(name):  # the shards hold ids the family's file lacked: join them in
            self.add(name, target)
        return self.path(name)

    def _require(self, name: str) -> Path:
        path = self.path(name)
        if not path.exists():
            raise DataFileError(
                f"feature family {name!r} is not cached: {path} is missing. Compute it with\n"
                f"    python scripts/extract_features.py --families {name} --features-dir {self.features_dir}"
            )
        self.check_provenance(name)
        return path


class FeatureRows:
    """Rows ``positions`` of a cached ``features`` dataset, as a read-only array-like of ``shape`` and ``dtype``.

    ``view[i]`` is one row; ``view[:, ...]`` (all rows, any selection of the trailing axes) reads that selection
    for the chosen rows only. The file is opened per read, so the view can outlive any open handle.
    """

    def __init__(self, path: Path, positions: np.ndarray, shape: tuple, dtype):
        self.path, self.positions, self.shape, self.dtype = Path(path), positions, shape, np.dtype(dtype)
        self._unique, self._inverse = np.unique(positions, return_inverse=True)

    def __len__(self) -> int:
        return self.shape[0]

    def signature(self) -> bytes:
        """What identifies these rows without reading them: the file's path, size and mtime, and the positions."""
        return json.dumps(file_signature(self.path), sort_keys=True).encode() + self.positions.tobytes()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        with h5py.File(self.path, "r") as f:
            ds = f["features"]
            if isinstance(first, (int, np.integer)):
                return ds[(int(self.positions[first]),) + rest]
            if first != slice(None):
                raise InputIndexError(f"FeatureRows supports view[i] and view[:, ...]; got first index {first!r}")
            # Contiguous blocks of rows, then the wanted rows picked from each: far faster than an h5py point
            # selection of thousands of rows, and bounded in memory by the block size.
            parts, u = [], self._unique
            for start in range(0, len(u), READ_BLOCK_ROWS):
                want = u[start : start + READ_BLOCK_ROWS]
                block = ds[(slice(int(want[0]), int(want[-1]) + 1),) + rest]
                parts.append(block[want - want[0]])
        if not parts:
            return np.empty(self.shape, dtype=self.dtype)[(slice(None),) + rest]
        return np.concatenate(parts)[self._inverse]


class FeatureWriter:
    """Write one family's features batch by batch into ``<path>.part``; resume it; rename it when complete.

    The file holds ``ids`` (the sorted ids planned), ``features`` (preallocated) and ``done`` (one flag per
    batch), flushed after each batch, so a crash loses at most the batch being computed. Reopening a ``.part``
    made for the same ids, shape, dtype, batch size and ``attrs`` continues at the first batch not done; one made
    otherwise is discarded with a warning. Use as a context manager: the file is renamed to ``path`` on a clean
    exit with every batch done.
    """

    def __init__(self, path: Path, ids, shape: tuple, dtype, batch_size: int, attrs: dict, all_ids=None):
        self.path = Path(path)
        self.part = Path(str(path) + ".part")
        self.ids = np.asarray(ids, dtype=np.int64)
        if len(self.ids) and (np.diff(self.ids) <= 0).any():
            raise InputError("FeatureWriter needs sorted, unique ids")
        self.shape, self.dtype, self.batch_size = tuple(shape), np.dtype(dtype), int(batch_size)
        self.attrs = dict(attrs)
        self.all_ids = self.ids if all_ids is None else np.asarray(all_ids, dtype=np.int64)
        self.batches = [(k, self.ids[a : a + self.batch_size])
                        for k, a in enumerate(range(0, len(self.ids), self.batch_size))]
        self._file = self._part = None

    def _plan(self) -> str:
        return json.dumps({"shape": list(self.shape), "dtype": self.dtype.str, "batch_size": self.batch_size,
                           "n": len(self.ids), "first": self.ids[:1].tolist(), "last": self.ids[-1:].tolist(),
                           "ids_sum": int(self.ids.sum()), "made_by": self.attrs}, sort_keys=True)

    def __enter__(self) -> FeatureWriter:
        # the features (and each image's fingerprint) must fit before HDF5 meets a full disk mid-write
        part = Path(str(self.path) + ".part")
        need = len(self.ids) * (int(np.prod(self.shape)) * self.dtype.itemsize + 8) + (1 << 18)  # + HDF5's own
        have = part.stat().st_size if part.exists() else 0
        require_space(writable(self.path.parent, "--features-dir"), need - have + RESERVE_BYTES,
                      f"{self.path.name} ({len(self.ids)} images)", "--features-dir")
        self._part = resumable_h5(self.path, self._plan(), matches=lambda f: np.array_equal(f["ids"][()], self.ids),
                                  mismatch="was planned otherwise")
        f, resumed = self._part.__enter__()
        if not resumed:
            f["ids"] = self.ids
            f["all_ids"] = self.all_ids
            f.create_dataset("features", shape=(len(self.ids),) + self.shape, dtype=self.dtype,
                             chunks=(1,) + self.shape if len(self.ids) else None)
            f.create_dataset("done", shape=(len(self.batches),), dtype=bool, fillvalue=False)
            f.create_dataset(HASHES, shape=(len(self.ids),), dtype=np.uint64, fillvalue=0)
            f.attrs["made_by"] = json.dumps(self.attrs)
        self._file = f
        return self

    def pending(self) -> list[tuple[int, np.ndarray]]:
        """(batch index, ids) of the batches not written yet."""
        done = self._file["done"][()]
        return [(k, ids) for k, ids in self.batches if not done[k]]

    def write(self, k: int, features, hashes=None) -> None:
        """Store batch ``k`` (len(batch ids), *shape) and, for a family of the images, each image's fingerprint
        (``image_hashes``, (len(batch ids),) uint64), then mark it done."""
        features = np.asarray(features)
        n = len(self.batches[k][1])
        if features.shape != (n,) + self.shape:
            raise InputError(f"batch {k} of {self.path.name}: expected features of shape {(n,) + self.shape}; "
                             f"found {features.shape}")
        a = k * self.batch_size
        self._file["features"][a : a + n] = features.astype(self.dtype, copy=False)
        if hashes is not None and HASHES in self._file:
            self._file[HASHES][a : a + n] = hashes
        self._file.flush()  # the rows are on disk before the batch is marked done
        self._file["done"][k] = True
        self._file.flush()

    def put(self, key: str, array) -> None:
        """Store an extra dataset once (e.g. the constant negative tokens), replacing a previous one."""
        if key in self._file:
            del self._file[key]
        self._file[key] = np.asarray(array)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and bool(self._file["done"][()].all()):
            self._file.attrs["complete"] = True  # renamed onto the family's file as the protocol closes
        return self._part.__exit__(exc_type, exc, tb)
