"""Check a data root against the manifest: each entry present, missing or bad (with the reason).

Structure (dataset names, dtypes, ranks) and consistency across files (mask grid = betas grid, 750 trials per
session, every design id inside the stimulus file) are always checked. NSD's exact sizes (grids, voxel
counts, sessions, 425 px stimuli) are printed beside what was found and enforced only with ``strict``, so a
synthetic root passes and a real one can be held to NSD.
"""

from __future__ import annotations

import csv
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, DataFileError, NoImagesError
from ..sources.base import open_hdf5
from ..sources.manifest import Manifest, entry_path, load_manifest
from ..sources.nsd_files import _ranges, betas_path, declared_sessions, present_sessions, read_design, read_mask
from ..weights.fetch_weights import check_file, entry_files, read_record, verify_level

NSD_STIMULUS_SIZE = 425


@dataclass
class CheckResult:
    """One row of the check table."""

    key: str
    subject: int | None
    status: str  # "present", "missing" or "bad"
    detail: str
    path: str
    kind: str = "nsd"
    hint: str = ""
    root: str = ""  # the data or weights root the entry was looked for under


class _Bad(Exception):
    pass


def _fail(cond: bool, msg: str) -> None:
    if not cond:
        raise _Bad(msg)


def _check_design(path: Path) -> tuple[str, dict]:
    design = read_design(path)
    n = len(design["masterordering"])
    _fail(n == 30000, f"masterordering has {n} trials; expected 30000")
    _fail(design["subjectim"].shape == (8, 10000), f"subjectim is {design['subjectim'].shape}; expected (8, 10000)")
    _fail(len(design["sharedix"]) == 1000, f"sharedix has {len(design['sharedix'])} ids; expected 1000")
    return "masterordering (30000,), subjectim (8, 10000), sharedix (1000,)", design


def _check_stimuli(path: Path, strict: bool, n_images: int) -> tuple[str, tuple]:
    with open_hdf5(path, "stimuli") as f:
        _fail("imgBrick" in f, f"no dataset 'imgBrick'; found {sorted(f.keys())}")
        ds = f["imgBrick"]
        _fail(ds.ndim == 4 and ds.shape[-1] == 3, f"imgBrick is {ds.shape}; expected (N, H, W, 3)")
        _fail(ds.dtype == np.uint8, f"imgBrick is {ds.dtype}; expected uint8")
        _fail(ds.shape[0] == n_images, f"imgBrick has {ds.shape[0]} images; expected {n_images}")
        if strict:
            _fail(ds.shape[1:3] == (NSD_STIMULUS_SIZE,) * 2,
                  f"imgBrick images are {ds.shape[1:3]}; NSD's are {NSD_STIMULUS_SIZE}x{NSD_STIMULUS_SIZE}")
        return f"imgBrick {ds.shape} uint8 (NSD: ({n_images}, 425, 425, 3))", ds.shape


def _check_stim_info(path: Path, strict: bool, n_images: int) -> str:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        for col in ("cocoId", "cocoSplit", "shared1000"):
            _fail(col in (reader.fieldnames or []), f"no column {col!r}; found {reader.fieldnames}")
        n = sum(1 for _ in reader)
    if strict:
        _fail(n == n_images, f"{n} rows; NSD has {n_images}")
    return f"{n} rows (NSD: {n_images})"


def _check_captions(path: Path) -> str:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise _Bad(f"not readable JSON: {exc}") from exc
    _fail("annotations" in data, f"no 'annotations' key; found {sorted(data)[:10]}")
    return f"{len(data['annotations'])} captions"


def _check_mask(path: Path, info: dict, strict: bool) -> tuple[str, np.ndarray]:
    mask = read_mask(path)
    grid, n_vox = tuple(info.get("grid") or ()), int(mask.sum())
    detail = f"grid {mask.shape}, {n_vox} voxels (NSD: grid {tuple(grid) or 'n/a'}, {info['n_voxels']} voxels)"
    if strict:
        _fail(not grid or mask.shape == grid, f"grid {mask.shape}; NSD's is {grid}")
        _fail(n_vox == info["n_voxels"], f"{n_vox} nsdgeneral voxels; NSD has {info['n_voxels']}")
    return detail, mask


def _check_betas(root: Path, subject: int, fmt: str, mask, info: dict, strict: bool, manifest: Manifest) -> str:
    present = present_sessions(root, subject, fmt, manifest)
    has = info["sessions"] if strict else declared_sessions(root, subject, manifest)
    absent = [s for s in range(1, has + 1) if s not in present]
    _fail(bool(present), "no session found")
    _fail(not absent, f"sessions {_ranges(absent)} of {has} are missing (present: {_ranges(present)})"
                      + ("; NSD has that many for this subject" if strict else ""))
    n = len(present)
    tps = manifest.trials_per_session
    for s in present:
        p = betas_path(root, subject, s, fmt, manifest)
        if fmt == "hdf5":
            with open_hdf5(p, "betas") as f:
                _fail("betas" in f, f"{p.name}: no dataset 'betas'; found {sorted(f.keys())}")
                shape, dtype = f["betas"].shape, f["betas"].dtype
            expected = (tps,) + (mask.shape[::-1] if mask is not None else shape[1:])
        else:
            # heavy (nibabel): imported where used
            import nibabel as nib

            try:
                img = nib.load(str(p))
            except Exception as exc:
                raise _Bad(f"{p.name}: cannot read as NIfTI: {exc}") from exc
            shape, dtype = img.shape, img.get_data_dtype()
            expected = (mask.shape if mask is not None else shape[:3]) + (tps,)
        _fail(len(shape) == 4, f"{p.name}: betas are {len(shape)}-D; expected 4-D")
        _fail(dtype == np.int16, f"{p.name}: betas are {dtype}; expected int16")
        _fail(tuple(shape) == expected,
              f"{p.name}: shape {tuple(shape)}; expected {expected} ({tps} trials on the nsdgeneral grid)")
    return f"{n} sessions of {tps} trials, int16 (NSD: {info['sessions']} sessions)"


def _run(results: list, key: str, subject, path: Path, fn, manifest: Manifest, kind="nsd", root=None):
    if not path.exists():
        entry = manifest[key]
        results.append(CheckResult(key, subject, "missing", "", str(path), kind,
                                   manifest.where_to_get(entry, subject, root=root).splitlines()[0], str(root or "")))
        return None
    try:
        detail, value = fn()
    except _Bad as exc:
        results.append(CheckResult(key, subject, "bad", str(exc), str(path), kind))
        return None
    except (OSError, ValueError, KeyError) as exc:
        results.append(CheckResult(key, subject, "bad", str(exc).splitlines()[0], str(path), kind))
        return None
    results.append(CheckResult(key, subject, "present", detail, str(path), kind))
    return value


def check_data(
    data_root: Path, subjects=(1,), strict: bool = False, weights_root: Path | None = None
) -> list[CheckResult]:
    """Check every NSD entry for ``subjects`` (and every weight entry under ``weights_root`` when given)."""
    manifest = load_manifest()
    root = Path(data_root)
    out: list[CheckResult] = []
    p = lambda key, s=None: entry_path(key, root, s, 1, manifest)  # noqa: E731
    run = functools.partial(_run, out, manifest=manifest, root=root)
    design = run("expdesign", None, p("expdesign"), lambda: _check_design(p("expdesign")))
    run("stim_info", None, p("stim_info"), lambda: (_check_stim_info(p("stim_info"), strict, manifest.n_images), None))
    shape = run("stimuli", None, p("stimuli"), lambda: _check_stimuli(p("stimuli"), strict, manifest.n_images))
    if design is not None and shape is not None:
        top = int(design["subjectim"].max())
        ok = top <= shape[0]
        out.append(CheckResult("design ids in stimuli", None, "present" if ok else "bad",
                               f"largest design id {top} (1-based) vs {shape[0]} stimuli", str(p("stimuli"))))
    for key in ("captions_train", "captions_val"):
        run(key, None, p(key), lambda key=key: (_check_captions(p(key)), None))
    for s in subjects:
        info = manifest.subject_info(s)
        mask = run("nsdgeneral", s, p("nsdgeneral", s), lambda s=s, info=info: _check_mask(
            p("nsdgeneral", s), info, strict))
        fmts = [f for f in ("hdf5", "nifti") if betas_path(root, s, 1, f, manifest).exists()] or ["hdf5"]
        for fmt in fmts:
            # session 1 stands for the series: when it exists, every session present is checked
            run(f"betas_{fmt}", s, betas_path(root, s, 1, fmt, manifest),
                lambda s=s, fmt=fmt, mask=mask, info=info: (_check_betas(root, s, fmt, mask, info, strict, manifest),
                                                            None))
    if weights_root is not None:
        out += check_weights(weights_root, manifest)
    return out


def check_weights(weights_root: Path, manifest: Manifest | None = None, verify: bool = False,
                  digests: Path | None = None, keys=None) -> list[CheckResult]:
    """Every weight entry of the manifest (or those in ``keys``) under ``weights_root`` (kind "weights").

    Each file the package loads is there and of the right size: the size recorded by fetch-weights (the weights
    root's ``fetched_weights.json``, or ``digests``, another machine's record), else the manifest's. With
    ``verify``, its sha256 is compared too (the manifest's, the record's, or a release's hash prefix).
    """
    manifest = manifest or load_manifest()
    root = Path(weights_root)
    known = read_record(digests if digests is not None else root)
    out: list[CheckResult] = []
    for entry in manifest.of_kind("weights"):
        if keys is not None and entry.key not in keys:
            continue
        wp = root / entry.path
        _run(out, entry.key, None, wp, lambda wp=wp, entry=entry: (_check_weight(wp, entry, root, verify, known),
                                                                   None), manifest, kind="weights", root=root)
    return out


def check_source(source) -> list[CheckResult]:
    """Own data (an HDF5 file, NIfTI betas): the validation a fit runs, as rows of the check table. The betas and
    the images count toward the exit code (kind "own"); the noise-ceiling SNR is optional (only --min-nc needs it)."""
    where, out = str(source), []
    try:
        data = source.data(progress=False)
        constant = data.check(source.where)
    except DataError as exc:
        return [CheckResult("betas", None, "bad", str(exc), where, "own")]
    out.append(CheckResult("betas", None, "present", f"{len(data.train_ids)} train and {len(data.test_ids)} test "
                           f"images ({int(data.train_repeats.sum() + data.test_repeats.sum())} trials), "
                           f"{data.n_voxels} voxels ({constant} constant)", where, "own"))
    try:
        images = source.images()
        images.verify()  # every image decoded once: a truncated file is found here, not in the first fit
        n, h, w = images.shape[:3]
        out.append(CheckResult("images", None, "present", f"{n} images of {h} x {w} pixels", str(images.path), "own"))
    except NoImagesError as exc:
        out.append(CheckResult("images", None, "missing", "", where, "own", str(exc)))
    except DataError as exc:
        out.append(CheckResult("images", None, "bad", str(exc), where, "own"))
    try:
        ncsnr = source.ncsnr()
        out.append(CheckResult("ncsnr", None, "present", f"{ncsnr.size} voxels, median {np.median(ncsnr):.3g}",
                               where, "optional"))
    except DataFileError as exc:
        out.append(CheckResult("ncsnr", None, "missing", "", where, "optional", str(exc).splitlines()[0]))
    except DataError as exc:
        out.append(CheckResult("ncsnr", None, "bad", str(exc), where, "optional"))
    return out


def _check_weight(path: Path, entry, root: Path, verify: bool, known: dict) -> str:
    marker = {"diffusers": "model_index.json", "transformers": "config.json"}.get(entry.format)
    if marker is not None:
        _fail(path.is_dir() and (path / marker).exists(), f"expected a folder with {marker}")
    else:
        _fail(path.is_file(), "expected a file")
    files = entry_files(entry)
    problems = [m for wf in files if (m := check_file(wf, root, verify, known))]
    _fail(not problems, problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "") if problems
          else "")
    size = sum((root / wf.relpath).stat().st_size for wf in files) if files else path.stat().st_size
    levels = sorted({verify_level(wf, known) for wf in files})
    checked = f"sha256 checked ({', '.join(levels)})" if verify else "sizes checked (--verify: sha256)"
    return f"{len(files)} files, {size / 1e6:.1f} MB; {checked}"


def format_table(results: list[CheckResult]) -> str:
    """The check results as a plain-text table, with where to get what is missing."""
    rows = [("entry", "subj", "status", "detail")]
    for r in results:
        detail = r.detail if r.status != "missing" else f"{r.path}"
        rows.append((r.key, f"{r.subject:02d}" if r.subject else "-", r.status.upper() if r.status != "present"
                     else r.status, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3] for row in rows]
    hints = sorted({r.hint for r in results if r.status == "missing" and r.hint and r.kind not in ("nsd", "weights")})
    nsd = [r for r in results if r.status == "missing" and r.kind == "nsd"]
    if nsd:  # one source for all of them, one command per subject
        manifest = load_manifest()
        hints.append(f"NSD's files come from {manifest.source_root}, at the paths above under the data root. "
                     f"{manifest.access.strip()}")
        for s in sorted({r.subject or 1 for r in nsd}):
            hints.append(f"Fetch subject {s}'s with: python scripts/fetch_nsd.py --subject {s} --dest {nsd[0].root} "
                         "(--dry-run first lists them and their sizes)")
    weights = [r for r in results if r.status == "missing" and r.kind == "weights"]
    if weights:  # one command fetches them all
        hints.append(f"Fetch the missing weights with: python scripts/fetch_weights.py --weights-root "
                     f"{weights[0].root} --only {','.join(r.key for r in weights)} (--dry-run first lists their "
                     "sizes and licenses); weights are never downloaded at run time")
    if hints:
        lines += ["", "Missing files:"] + [f"- {h.rstrip('.')}." for h in hints]
    return "\n".join(lines)
