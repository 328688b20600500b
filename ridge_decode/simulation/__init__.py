"""A synthetic subject written in exactly the NSD file layout, from real photographs and a known encoding model.

The real loader (:mod:`ridge_decode.sources.nsd`) reads the result unchanged. What is written under ``out``:

- ``nsddata_betas/ppdata/subjNN/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_sessionSS.hdf5``: dataset
  ``betas``, int16, percent signal change x 300, axes ``(750, Z, Y, X)`` (optionally also ``.nii.gz``,
  axes ``(X, Y, Z, 750)``);
- ``nsddata/ppdata/subjNN/func1pt8mm/roi/nsdgeneral.nii.gz``: -1 outside the brain, 0 cortex, 1 nsdgeneral;
- ``nsddata/experiments/nsd/nsd_expdesign.mat`` (``masterordering``, ``subjectim``, ``sharedix``, 1-based)
  and ``nsd_stim_info_merged.csv``;
- ``nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5``: ``imgBrick`` of shape (73000, H, W, 3), one chunk per
  image, compressed; only the images some simulated trial shows are written;
- ``nsddata_stimuli/stimuli/nsd/annotations/captions_{train,val}2017.json`` (COCO format);
- ``nsddata/ppdata/subjNN/synthetic_ground_truth.h5``: every parameter of the encoding model.

One module per job: ``design`` (the experiment and its sizes), ``stimuli`` (images and captions), ``encoding``
(the encoding model, see its docstring and ``docs/data.md``) and ``writers`` (the NSD files). ``simulate`` below
only runs them in order.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
from tqdm.auto import tqdm

from ..errors import DataFileError, DataFormatError, ForeignFolderError, InputError
from ..runtime.io import write_json
from ..runtime.runs import claim, run_kind, write_marker
from ..sources.base import noise_ceiling
from ..sources.manifest import entry_path, load_manifest
from . import writers
from .design import N_SESSIONS_MAX, SimSize, _size, make_design, trial_ids
from .encoding import (
    FEATURE_RES,
    LATENT_DIMS,
    LUMINANCE_WEIGHT,
    N_LATENT,
    SESSION_GAIN_SD,
    SESSION_OFFSET_SD,
    image_features,
    latent,
    make_encoding,
    make_latent_model,
    make_mask,
    make_powerlaw_latent,
    rich_features,
    session_psc,
    voxel_signal,
)
from .stimuli import load_source_photographs, render_dead_leaves, render_stimulus

__all__ = ["simulate", "make_design", "trial_ids", "load_source_photographs", "render_stimulus", "noise_ceiling",
           "render_dead_leaves", "PRESETS"]

# "nsd" (the default) is as hard to decode as NSD (docs/data.md): every id its own dead-leaves image, a 256-dim
# power-law latent, noise ceilings falling along the hierarchy. "easy" is the first generator (crops of 17
# photographs, a 32-dim latent, one ncsnr spread): a strong signal for tests that need a clear margin.
PRESETS = ("nsd", "easy")


# the file layout's settings, each overridable by a keyword of simulate
LAYOUT = {"image_size": 128, "betas_formats": ("hdf5",), "sessions": None}


def simulate(out: str | Path = "data/synthetic", size: str = "small", subjects=(1, 2), seed: int = 0,
             preset: str = "nsd", progress: bool = True, **layout) -> Path:
    """Write synthetic subjects in the NSD file layout under ``out``, with a known encoding model.

    Everything is deterministic from ``seed``: the same seed gives the same bytes.

    Into a root that ``simulate`` already wrote, the subjects not yet there are added, on the root's own image-to-
    latent map (read from a subject's ``synthetic_ground_truth.h5``), with the stimuli of every subject; the
    subjects there are left as they are. That needs the same seed, size, preset, image size and betas formats
    (``ADD_SETTINGS``); otherwise, and for a folder that ``simulate`` did not write, an ``InputError`` names what
    differs or what is there, and nothing is written.

    Parameters
    ----------
    out : str or Path
        The root to write (an NSD-like tree: betas, the nsdgeneral ROI, the design, the stimuli).
    size : {"tiny", "small", "nsd"}
        "tiny": 2 sessions and 400 voxels on a 12 x 14 x 10 grid; "small": 6 sessions and 3,000 voxels on
        24 x 30 x 22; "nsd": NSD's session and nsdgeneral voxel counts per subject on a 34 x 42 x 34 grid. Each
        session has 750 trials; later subjects have fewer voxels, as real ones differ.
    subjects : iterable of int
        NSD subject numbers, 1 to 8.
    seed : int
        The seed of everything written.
    preset : {"nsd", "easy"}
        "nsd": as hard to decode as NSD (dead-leaves images, a 256-dim power-law latent, noise ceilings falling
        along the visual hierarchy); "easy": a strong signal for a clear margin.
    progress : bool
        Show progress bars.
    **layout
        ``image_size`` (the stimuli's side in pixels, a multiple of 32; default 128), ``betas_formats`` (any of
        ``("hdf5", "nifti")``) and ``sessions`` (instead of the size's count).

    Returns
    -------
    Path
        ``out``. Betas are written as NSD's are: int16, percent signal change x 300, ``(750, Z, Y, X)`` per HDF5
        session; stimuli uint8 ``(N, image_size, image_size, 3)``.
    """
    unknown = sorted(set(layout) - set(LAYOUT))
    if unknown:
        raise InputError(f"simulate has no setting {unknown}; it takes {sorted(LAYOUT)}")
    image_size, betas_formats, sessions = ({**LAYOUT, **layout}[k] for k in LAYOUT)
    out = Path(out)
    subjects = sorted(set(int(s) for s in subjects))
    manifest = load_manifest()
    for s in subjects:
        manifest.subject_info(s)
    bad = set(betas_formats) - {"hdf5", "nifti"}
    if bad or not betas_formats:
        raise InputError(f"betas_formats must be within ('hdf5', 'nifti'); got {betas_formats!r}")
    if image_size % FEATURE_RES:
        raise InputError(f"image_size must be a multiple of {FEATURE_RES}; got {image_size}")
    if preset not in PRESETS:
        raise InputError(f"preset must be one of {PRESETS}; got {preset!r}")
    hard = preset == "nsd"
    render = render_dead_leaves if hard else render_stimulus
    if sessions is not None and not 1 <= sessions <= N_SESSIONS_MAX:
        raise InputError(f"sessions must be within 1..{N_SESSIONS_MAX}; got {sessions}")
    settings = {"seed": seed, "size": size, "preset": preset, "image_size": image_size,
                "betas_formats": list(betas_formats)}
    before = _root_so_far(out, settings)  # None: a new root
    there = sorted(int(s) for s in before["subjects"]) if before else []
    subjects = [s for s in subjects if s not in there]
    if before is not None and not subjects:
        return out  # every subject asked for is there, made with these settings
    spec = _size(size, subjects)
    if sessions is not None:
        spec = SimSize(dict.fromkeys(subjects, sessions), spec.n_voxels, spec.grid)
    all_sessions = {**({int(s): n for s, n in before["sessions"].items()} if before else {}), **spec.sessions}
    tps = manifest.trials_per_session

    def path(key, **kw):
        return entry_path(key, out, manifest=manifest, **kw)

    design = make_design(seed)
    if before is None:
        out.mkdir(parents=True, exist_ok=True)
        write_marker(out, "simulate", f"seed-{seed}")  # the root is simulate's from its first file on
        writers.write_design(path("expdesign"), design)
        writers.write_stim_info(path("stim_info"), design, manifest.n_images)
    trials = {s: trial_ids(design, s, all_sessions[s] * tps) for s in [*there, *subjects]}
    used = np.unique(np.concatenate(list(trials.values())))  # the stimuli of every subject of the root

    photos = load_source_photographs()
    images = np.empty((len(used), image_size, image_size, 3), np.uint8)
    metas = []
    for k, i in enumerate(tqdm(used, desc="stimuli", disable=not progress)):
        images[k], meta = render(photos, int(i), seed, image_size)
        metas.append(meta)
    writers.write_stimuli(path("stimuli"), used, images, manifest.n_images, seed)
    writers.write_captions(out, manifest, used, metas, seed)

    feats = image_features(images)
    phi = rich_features(images, np.array([m["cover_by_source"] for m in metas]), feats) if hard else feats["phi"]
    if before is None:
        latent_model = make_powerlaw_latent(seed, phi) if hard else make_latent_model(seed, phi)
    else:  # the subjects there were made with this map: the new ones share it, as NSD's subjects share a brain
        latent_model = _latent_model_of(out, there)
    z = latent(phi, latent_model)
    row_of = {int(i): k for k, i in enumerate(used)}

    for s in subjects:
        rng = np.random.default_rng([seed, 4, s])
        mask = make_mask(spec.grid, spec.n_voxels[s], rng)
        writers.write_nifti(path("nsdgeneral", subject=s), mask)
        enc = make_encoding(mask, rng, LATENT_DIMS if hard else N_LATENT, ncsnr_along_hierarchy=hard,
                            luminance_weight=LUMINANCE_WEIGHT if hard else 1.0)
        ncsnr = np.zeros(mask.shape, np.float32)  # the planted per-voxel SNR, as NSD's ncsnr volume
        ncsnr[tuple(enc["voxel_xyz"].T)] = enc["ncsnr"]
        writers.write_nifti(path("ncsnr", subject=s), ncsnr)
        ids_s = np.unique(trials[s])
        rows = np.array([row_of[int(i)] for i in ids_s])
        signal = voxel_signal({k: v[rows] for k, v in feats.items()}, z[rows], enc)
        sig_row = {int(i): k for k, i in enumerate(ids_s)}
        n_sess = spec.sessions[s]
        gain = (1.0 + SESSION_GAIN_SD * rng.standard_normal(n_sess)).astype(np.float32)
        offset = (SESSION_OFFSET_SD * rng.standard_normal((n_sess, len(enc["ncsnr"])))).astype(np.float32)
        roi, cortex = mask > 0, mask == 0
        for sess in tqdm(range(1, n_sess + 1), desc=f"subj{s:02d} sessions", disable=not progress):
            t_ids = trials[s][(sess - 1) * tps : sess * tps]
            psc = session_psc(signal[[sig_row[int(i)] for i in t_ids]], enc, gain[sess - 1], offset[sess - 1], rng)
            vol = np.zeros((tps,) + spec.grid, np.int16)  # (750, X, Y, Z)
            vol[:, roi] = writers.to_int16(psc)
            vol[:, cortex] = writers.to_int16(rng.standard_normal((tps, cortex.sum()), np.float32))
            if "hdf5" in betas_formats:
                writers.write_betas_hdf5(path("betas_hdf5", subject=s, session=sess), vol)
            if "nifti" in betas_formats:
                writers.write_nifti(path("betas_nifti", subject=s, session=sess), np.moveaxis(vol, 0, -1))
        truth = {f"encoding/{k}": v for k, v in enc.items()}
        truth.update({f"latent_model/{k}": v for k, v in latent_model.items()})
        truth.update(trial_ids=trials[s], signal=signal, signal_ids=ids_s, latent=z[rows], session_gain=gain,
                     session_offset=offset)
        writers.write_ground_truth(out / f"nsddata/ppdata/subj{s:02d}/synthetic_ground_truth.h5", truth,
                                   {"seed": seed, "size": size, "sessions": n_sess, "preset": preset,
                                    "model": "see ridge_decode.simulation.encoding's docstring"})
    n_voxels = {**({int(s): n for s, n in before["n_voxels"].items()} if before else {}), **spec.n_voxels}
    write_json(
        out / SYNTHETIC_JSON,
        {"seed": seed, "size": size, "preset": preset, "subjects": sorted([*there, *subjects]),
         "sessions": dict(sorted(all_sessions.items())), "n_voxels": dict(sorted(n_voxels.items())),
         "grid": spec.grid, "image_size": image_size, "betas_formats": list(betas_formats),
         "n_stimuli_written": len(used)},
    )
    return out


SYNTHETIC_JSON = "synthetic.json"
# what a root's subjects must share for another to join them: the stimuli (seed, preset, image size), the grid and
# voxel counts (size), and the files a loader of the root expects (betas formats)
ADD_SETTINGS = ("seed", "size", "preset", "image_size", "betas_formats")


def _root_so_far(out: Path, settings: dict) -> dict | None:
    """``synthetic.json`` of the root ``simulate`` wrote at ``out`` (None for a new root, or one whose first
    ``simulate`` was interrupted); an ``InputError`` when its settings differ from ``settings`` (what differs is
    named) or when ``out`` holds something else."""
    made = out / SYNTHETIC_JSON
    if not made.exists():
        if out.is_dir() and any(out.iterdir()) and run_kind(out) != "simulate":
            claim(out, "simulate")  # names what is there
        return None
    try:
        before = json.loads(made.read_text())
    except ValueError:
        raise DataFormatError(f"{made} is not valid JSON: the root cannot be added to; simulate into a new "
                              "--out") from None
    if not isinstance(before, dict) or not before.get("subjects"):
        raise ForeignFolderError(f"--out {out}: {made} does not describe a root that simulate wrote (no subjects); "
                                 "simulate into a new --out")
    differ = [f"{k} {before.get(k)!r} there, {settings[k]!r} asked" for k in ADD_SETTINGS
              if before.get(k) != settings[k]]
    if differ:
        raise ForeignFolderError(
            f"--out {out} is a synthetic root made with other settings ({'; '.join(differ)}): subjects are added to "
            f"it only with the settings its subjects share (its stimuli, design and {SYNTHETIC_JSON} would "
            "otherwise be rewritten under them). Give those settings, or simulate into a new --out")
    return before


def _latent_model_of(out: Path, subjects) -> dict:
    """The image-to-latent map the root's ``subjects`` were made with (their ``synthetic_ground_truth.h5``)."""
    for s in subjects:
        path = out / f"nsddata/ppdata/subj{s:02d}/synthetic_ground_truth.h5"
        if path.exists():
            with h5py.File(path, "r") as f:
                return {k: v[()] for k, v in f["latent_model"].items()}
    raise DataFileError(f"{out}: no synthetic_ground_truth.h5 of its subjects {list(subjects)}, whose image-to-"
                        "latent map a new subject must share; simulate into a new --out")
