"""A synthetic subject written in exactly the NSD file layout, from real photographs and a known encoding model.

The real loader (:mod:`ridge_decode.nsd`) reads the result unchanged. What is written under ``out``:

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

The encoding model (see ``docs/data.md``): each image gives a luminance and a local-contrast map on a
``FEATURE_RES`` grid, and a ``N_LATENT``-dim latent ``z = tanh(P phi)`` of coarse image structure (colour
thumbnail and orientation energy) with ``P`` shared by all subjects. Posterior voxels have retinotopic Gaussian
receptive fields on luminance and contrast; anterior voxels read out the shared latent; the hierarchy position
``t`` blends the two. Each voxel's signal is standardised over the subject's images and scaled by its ncsnr;
each trial adds unit Gaussian noise, and each session its own gain and offset drift.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import scipy.io
from PIL import Image
from scipy import ndimage
from tqdm.auto import tqdm

from .io import atomic_path, write_json
from .manifest import entry_path, load_manifest
from .nsd import noise_ceiling as _nsd_noise_ceiling

BETA_SCALE = 300  # NSD stores percent signal change x 300 as int16
TRIALS_PER_SESSION = 750
N_IMAGES = 73000
N_SHARED = 1000
N_SUBJECT_IMAGES = 10000
N_NSD_SUBJECTS = 8
SESSIONS_PER_BLOCK = 2  # every image's 3 repeats fall within one block of 2 sessions
N_REPEATS = 3
FEATURE_RES = 32  # luminance / contrast maps seen by the early voxels
THUMB_RES = 8  # colour thumbnail feeding the latent
N_ORIENT = 4
N_LATENT = 32
VOXEL_SIZE_MM = 1.8
NCSNR_MEDIAN = 0.4  # NSD nsdgeneral voxels have ncsnr of a few tenths
NCSNR_LOG_SD = 0.5


@dataclass(frozen=True)
class SimSize:
    """How big a simulated subject is: sessions, nsdgeneral voxels per subject and the (X, Y, Z) grid."""

    sessions: dict[int, int]
    n_voxels: dict[int, int]
    grid: tuple[int, int, int]


def _size(name: str, subjects: list[int]) -> SimSize:
    manifest = load_manifest()
    if name == "nsd":
        # NSD's session and voxel counts on a compact grid: the files stay a few GB per subject
        return SimSize(
            sessions={s: manifest.subject_info(s)["sessions"] for s in subjects},
            n_voxels={s: manifest.subject_info(s)["n_voxels"] for s in subjects},
            grid=(34, 42, 34),
        )
    base = {"small": (6, 3000, (24, 30, 22)), "tiny": (2, 400, (12, 14, 10))}
    if name not in base:
        raise ValueError(f"--size must be one of small, nsd, tiny; got {name!r}")
    sessions, voxels, grid = base[name]
    # subjects differ in voxel count as real ones do
    return SimSize(
        sessions=dict.fromkeys(subjects, sessions),
        n_voxels={s: int(voxels * (1 - 0.05 * (s - 1))) for s in subjects},
        grid=grid,
    )


# --------------------------------------------------------------------------- design
def make_design(seed: int) -> dict[str, np.ndarray]:
    """An NSD-shaped experimental design (1-based, as in ``nsd_expdesign.mat``).

    ``sharedix`` (1000 sorted 73k ids) opens every subject's 10k list (``subjectim[:, :1000]``); the other
    9000 images of each of the 8 subjects are disjoint, so the 73k ids are used exactly once overall.
    ``masterordering`` (30000 trials, shared by all subjects) shows each image 3 times within a block of two
    sessions, each block holding 50 shared and 450 subject-specific images.
    """
    rng = np.random.default_rng([seed, 1])
    perm = rng.permutation(N_IMAGES)
    sharedix = np.sort(perm[:N_SHARED])
    rest = perm[N_SHARED:].reshape(N_NSD_SUBJECTS, N_SUBJECT_IMAGES - N_SHARED)
    subjectim = np.concatenate([np.tile(sharedix, (N_NSD_SUBJECTS, 1)), rest], axis=1) + 1

    n_blocks = 40 // SESSIONS_PER_BLOCK
    shared_per_block = N_SHARED // n_blocks
    own_per_block = (N_SUBJECT_IMAGES - N_SHARED) // n_blocks
    order = []
    for b in range(n_blocks):
        shared = np.arange(b * shared_per_block, (b + 1) * shared_per_block) + 1
        own = N_SHARED + np.arange(b * own_per_block, (b + 1) * own_per_block) + 1
        block = np.repeat(np.concatenate([shared, own]), N_REPEATS)
        order.append(rng.permutation(block))
    masterordering = np.concatenate(order)
    return {
        "masterordering": masterordering[None, :].astype(np.float64),
        "subjectim": subjectim.astype(np.float64),
        "sharedix": (sharedix + 1)[None, :].astype(np.float64),
    }


def trial_ids(design: dict[str, np.ndarray], subject: int, n_trials: int) -> np.ndarray:
    """0-based 73k ids of a subject's first ``n_trials`` trials, straight from the design arrays."""
    m = design["masterordering"].ravel()[:n_trials].astype(np.int64)
    return design["subjectim"][subject - 1, m - 1].astype(np.int64) - 1


# --------------------------------------------------------------------------- stimuli
SOURCES = {
    "astronaut": "an astronaut in a white space suit",
    "camera": "a man with a camera on a tripod",
    "chelsea": "a tabby cat",
    "coffee": "a cup of coffee on a saucer",
    "coins": "old coins on a table",
    "grass": "a patch of grass",
    "gravel": "a gravel path",
    "hubble_deep_field": "galaxies in deep space",
    "rocket": "a rocket on a launch pad",
    "retina": "a photograph of an eye's retina",
    "moon": "the surface of the moon",
    "brick": "a brick wall",
    "cell": "a cell under a microscope",
    "immunohistochemistry": "stained tissue under a microscope",
    "clock": "a clock on a wall",
    "china": "a temple among trees",
    "flower": "a flower in a garden",
}


def load_source_photographs() -> dict[str, np.ndarray]:
    """The real photographs bundled with scikit-image and scikit-learn, as uint8 RGB (no network needed)."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = {}
    for name in SOURCES:
        if name in ("china", "flower"):
            continue
        img = getattr(skimage.data, name)()
        photos[name] = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
    china, flower = load_sample_images().images
    photos["china"], photos["flower"] = china, flower
    return photos


def render_stimulus(
    photos: dict[str, np.ndarray], image_id: int, seed: int, size: int
) -> tuple[np.ndarray, dict[str, object]]:
    """One stimulus for a 73k id: a random crop, scale, flip and gamma of a photograph, as (size, size, 3) uint8.

    The result depends only on ``(seed, image_id)``, never on which other ids are rendered.
    """
    rng = np.random.default_rng([seed, 2, image_id])
    names = sorted(photos)
    name = names[rng.integers(len(names))]
    src = photos[name]
    h, w = src.shape[:2]
    frac = rng.uniform(0.3, 1.0)
    side = max(8, int(frac * min(h, w)))
    y0, x0 = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = src[y0 : y0 + side, x0 : x0 + side]
    flip = bool(rng.random() < 0.5)
    if flip:
        crop = crop[:, ::-1]
    img = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.BILINEAR))
    gamma = float(np.exp(rng.normal(0, 0.25)))
    img = np.clip(255.0 * (img / 255.0) ** gamma, 0, 255).astype(np.uint8)
    return img, {"source": name, "crop_fraction": frac, "flip": flip, "gamma": gamma}


def _captions(meta: dict[str, object], rng: np.random.Generator) -> list[str]:
    thing = SOURCES[meta["source"]]
    close = meta["crop_fraction"] < 0.55
    light = "bright" if meta["gamma"] < 0.9 else "dark" if meta["gamma"] > 1.1 else "evenly lit"
    templates = [
        f"{'A close-up of ' if close else 'A view of '}{thing}.",
        f"A {light} photo showing {thing}.",
        f"{thing[0].upper()}{thing[1:]}{' seen up close' if close else ''}.",
        f"An image of {thing}, {light}.",
        f"There is {thing} in this picture.",
    ]
    rng.shuffle(templates)
    return templates


# --------------------------------------------------------------------------- encoding model
def image_features(images: np.ndarray) -> dict[str, np.ndarray]:
    """Luminance and contrast maps (n, FEATURE_RES**2) and coarse structure ``phi`` (n, d) of uint8 images."""
    x = images.astype(np.float32) / 255.0
    n, h, w, _ = x.shape
    gray = x @ np.array([0.299, 0.587, 0.114], np.float32)
    b = h // FEATURE_RES
    blocks = gray[:, : b * FEATURE_RES, : b * FEATURE_RES].reshape(n, FEATURE_RES, b, FEATURE_RES, b)
    lum = blocks.mean(axis=(2, 4))
    con = blocks.std(axis=(2, 4))
    t = h // THUMB_RES
    thumb = x[:, : t * THUMB_RES, : t * THUMB_RES].reshape(n, THUMB_RES, t, THUMB_RES, t, 3).mean(axis=(2, 4))
    gy, gx = np.gradient(lum, axis=(1, 2))
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    energy = np.hypot(gx, gy)
    pool = FEATURE_RES // 4
    orient = []
    for k in range(N_ORIENT):
        centre = k * np.pi / N_ORIENT
        tuning = np.cos(angle - centre) ** 2
        e = (energy * tuning).reshape(n, 4, pool, 4, pool).mean(axis=(2, 4))
        orient.append(e.reshape(n, -1))
    phi = np.concatenate([thumb.reshape(n, -1)] + orient, axis=1)
    return {"lum": lum.reshape(n, -1), "con": con.reshape(n, -1), "phi": phi}


def make_latent_model(seed: int, phi: np.ndarray) -> dict[str, np.ndarray]:
    """The image-to-latent map shared by all subjects: standardisation of ``phi`` and projection ``P``."""
    rng = np.random.default_rng([seed, 3])
    d = phi.shape[1]
    return {
        "phi_mean": phi.mean(axis=0),
        "phi_std": phi.std(axis=0) + 1e-6,
        "P": (rng.standard_normal((N_LATENT, d)) * 2.0 / np.sqrt(d)).astype(np.float32),
    }


def latent(phi: np.ndarray, model: dict[str, np.ndarray]) -> np.ndarray:
    """Shared latent ``z = tanh(P (phi - mean) / std)``, shape (n, N_LATENT)."""
    return np.tanh(((phi - model["phi_mean"]) / model["phi_std"]) @ model["P"].T).astype(np.float32)


def make_mask(grid: tuple[int, int, int], n_voxels: int, rng: np.random.Generator) -> np.ndarray:
    """An nsdgeneral-like ROI on ``grid`` (X, Y, Z): -1 outside an ellipsoidal brain, 0 cortex, 1 ROI.

    The ROI is the ``n_voxels`` brain voxels that are most posterior (low Y), with smooth random borders.
    """
    coords = np.stack(np.meshgrid(*[np.linspace(-1, 1, g) for g in grid], indexing="ij"))
    brain = (coords**2).sum(axis=0) <= 0.95
    if brain.sum() < n_voxels:
        raise ValueError(f"grid {grid} holds {brain.sum()} brain voxels, fewer than {n_voxels} requested")
    noise = ndimage.gaussian_filter(rng.standard_normal(grid), sigma=2.0)
    score = -coords[1] + 0.5 * noise / noise.std()
    score[~brain] = -np.inf
    order = np.argsort(score, axis=None)[::-1][:n_voxels]
    mask = np.where(brain, 0, -1).astype(np.int16)
    mask.flat[order] = 1
    return mask


def make_encoding(
    mask: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per-voxel encoding parameters for the ROI voxels, in mask order (``np.argwhere(mask > 0)``)."""
    xyz = np.argwhere(mask > 0)
    p = len(xyz)
    grid = np.array(mask.shape, float)
    frac = xyz / (grid - 1)
    # hierarchy: posterior (low Y) voxels are early, anterior ones read out the latent
    y_rank = np.argsort(np.argsort(frac[:, 1] + 0.05 * rng.standard_normal(p))) / max(p - 1, 1)
    t = 1.0 / (1.0 + np.exp(-(y_rank - 0.5) * 10.0))
    # retinotopy: a smooth map from (X, Z) to the visual field, plus scatter
    rf_center = np.clip(np.stack([frac[:, 0], frac[:, 2]], 1) + 0.05 * rng.standard_normal((p, 2)), 0, 1)
    rf_sigma = 0.04 + 0.15 * y_rank  # receptive fields grow along the hierarchy (fraction of the image)
    return {
        "voxel_xyz": xyz.astype(np.int32),
        "hierarchy": t.astype(np.float32),
        "rf_center": rf_center.astype(np.float32),
        "rf_sigma": rf_sigma.astype(np.float32),
        "w_lum": rng.standard_normal(p).astype(np.float32),
        "w_con": np.abs(1.0 + 0.5 * rng.standard_normal(p)).astype(np.float32),
        "w_latent": rng.standard_normal((p, N_LATENT)).astype(np.float32),
        "ncsnr": np.clip(np.exp(np.log(NCSNR_MEDIAN) + NCSNR_LOG_SD * rng.standard_normal(p)), 0.05, 1.5).astype(
            np.float32
        ),
        "scale_psc": rng.uniform(0.8, 2.0, p).astype(np.float32),
        "baseline_psc": rng.normal(0.0, 1.0, p).astype(np.float32),
    }


def voxel_signal(feats: dict[str, np.ndarray], z: np.ndarray, enc: dict[str, np.ndarray]) -> np.ndarray:
    """Noise-free responses (n_images, p), each voxel standardised over these images (mean 0, sd 1)."""
    g = (np.arange(FEATURE_RES) + 0.5) / FEATURE_RES
    gy, gx = np.meshgrid(g, g, indexing="ij")
    cy, cx = enc["rf_center"][:, 1, None], enc["rf_center"][:, 0, None]
    d2 = (gx.ravel()[None] - cx) ** 2 + (gy.ravel()[None] - cy) ** 2
    rf = np.exp(-d2 / (2 * enc["rf_sigma"][:, None] ** 2)).astype(np.float32)
    rf /= rf.sum(axis=1, keepdims=True)
    early = enc["w_lum"] * ((feats["lum"] - 0.5) @ rf.T) + enc["w_con"] * (feats["con"] @ rf.T)
    late = z @ enc["w_latent"].T
    early = (early - early.mean(0)) / (early.std(0) + 1e-8)
    late = (late - late.mean(0)) / (late.std(0) + 1e-8)
    t = enc["hierarchy"]
    signal = (1 - t) * early + t * late
    return ((signal - signal.mean(0)) / (signal.std(0) + 1e-8)).astype(np.float32)


def noise_ceiling(ncsnr: np.ndarray, n_repeats: float | np.ndarray) -> np.ndarray:
    """NSD's noise ceiling in percent variance: ``100 * ncsnr**2 / (ncsnr**2 + 1 / n)`` (see ``nsd.noise_ceiling``)."""
    return _nsd_noise_ceiling(ncsnr, n_repeats)


# --------------------------------------------------------------------------- writers
def _write_nifti(path: Path, data: np.ndarray) -> None:
    affine = np.diag([VOXEL_SIZE_MM, VOXEL_SIZE_MM, VOXEL_SIZE_MM, 1.0])
    with atomic_path(path, suffix=".nii.gz") as tmp:
        nib.save(nib.Nifti1Image(data, affine), str(tmp))


def _write_stim_info(path: Path, design: dict[str, np.ndarray]) -> None:
    shared = set(design["sharedix"].ravel().astype(int) - 1)
    order = design["masterordering"].ravel().astype(int)
    reps = np.zeros((N_NSD_SUBJECTS, N_IMAGES, N_REPEATS), dtype=np.int64)
    seen = np.zeros((N_NSD_SUBJECTS, N_IMAGES), dtype=np.int64)
    for s in range(N_NSD_SUBJECTS):
        ids = design["subjectim"][s, order - 1].astype(int) - 1
        for trial, i in enumerate(ids):
            if seen[s, i] < N_REPEATS:
                reps[s, i, seen[s, i]] = trial + 1  # 1-based trial number, 0 = never shown
            seen[s, i] += 1
    header = ["", "cocoId", "cocoSplit", "cropBox", "nsdId", "shared1000"]
    header += [f"subject{s + 1}" for s in range(N_NSD_SUBJECTS)]
    header += [f"subject{s + 1}_rep{r}" for s in range(N_NSD_SUBJECTS) for r in range(N_REPEATS)]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(N_IMAGES):
            row = [i, coco_id(i), coco_split(i), "(0, 0, 0, 0)", i, i in shared]
            row += [int(seen[s, i] > 0) for s in range(N_NSD_SUBJECTS)]
            row += reps[:, i, :].ravel().tolist()
            w.writerow(row)


def coco_id(image_id: int) -> int:
    """The synthetic COCO id of a 73k id (real NSD takes it from nsd_stim_info_merged.csv)."""
    return 100000 + int(image_id)


def coco_split(image_id: int) -> str:
    """The synthetic COCO split of a 73k id: one in ten is in val2017, as a reminder that both files are read."""
    return "val2017" if image_id % 10 == 0 else "train2017"


def simulate(
    out: str | Path = "data/synthetic",
    size: str = "small",
    subjects: tuple[int, ...] | list[int] = (1, 2),
    seed: int = 0,
    image_size: int = 128,
    betas_formats: tuple[str, ...] = ("hdf5",),
    sessions: int | None = None,
    progress: bool = True,
) -> Path:
    """Write synthetic subjects in the NSD layout under ``out`` and return ``out``.

    Everything is deterministic from ``seed``. ``sessions`` overrides the size's session count (each session
    has 750 trials). ``betas_formats`` is any of ``("hdf5", "nifti")``.
    """
    out = Path(out)
    subjects = sorted(set(int(s) for s in subjects))
    manifest = load_manifest()
    for s in subjects:
        manifest.subject_info(s)
    bad = set(betas_formats) - {"hdf5", "nifti"}
    if bad or not betas_formats:
        raise ValueError(f"betas_formats must be within ('hdf5', 'nifti'); got {betas_formats!r}")
    if image_size % FEATURE_RES:
        raise ValueError(f"image_size must be a multiple of {FEATURE_RES}; got {image_size}")
    spec = _size(size, subjects)
    if sessions is not None:
        if not 1 <= sessions <= 40:
            raise ValueError(f"sessions must be within 1..40; got {sessions}")
        spec = SimSize(dict.fromkeys(subjects, sessions), spec.n_voxels, spec.grid)

    design = make_design(seed)
    path = lambda key, **kw: entry_path(key, out, manifest=manifest, **kw)  # noqa: E731
    mat = path("expdesign")
    mat.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(mat) as tmp, open(tmp, "wb") as f:
        scipy.io.savemat(f, design)
    _write_stim_info(path("stim_info"), design)

    trials = {s: trial_ids(design, s, spec.sessions[s] * TRIALS_PER_SESSION) for s in subjects}
    used = np.unique(np.concatenate(list(trials.values())))

    # stimuli: one chunk per image, so the 73k rows never written cost no disk
    photos = load_source_photographs()
    images = np.empty((len(used), image_size, image_size, 3), np.uint8)
    metas = []
    stim = path("stimuli")
    stim.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(stim) as tmp, h5py.File(tmp, "w") as f:
        brick = f.create_dataset(
            "imgBrick", shape=(N_IMAGES, image_size, image_size, 3), dtype=np.uint8,
            chunks=(1, image_size, image_size, 3), compression="gzip", compression_opts=4,
        )
        for k, i in enumerate(tqdm(used, desc="stimuli", disable=not progress)):
            images[k], meta = render_stimulus(photos, int(i), seed, image_size)
            brick[i] = images[k]
            metas.append(meta)
        f.attrs["synthetic"] = True
        f.attrs["seed"] = seed
    _write_captions(out, manifest, used, metas, seed)

    feats = image_features(images)
    latent_model = make_latent_model(seed, feats["phi"])
    z = latent(feats["phi"], latent_model)
    row_of = {int(i): k for k, i in enumerate(used)}

    for s in subjects:
        rng = np.random.default_rng([seed, 4, s])
        mask = make_mask(spec.grid, spec.n_voxels[s], rng)
        _write_nifti(path("nsdgeneral", subject=s), mask)
        enc = make_encoding(mask, rng)
        ncsnr = np.zeros(mask.shape, np.float32)  # the planted per-voxel SNR, as NSD's ncsnr volume
        ncsnr[tuple(enc["voxel_xyz"].T)] = enc["ncsnr"]
        _write_nifti(path("ncsnr", subject=s), ncsnr)
        ids_s = np.unique(trials[s])
        rows = np.array([row_of[int(i)] for i in ids_s])
        sub_feats = {k: v[rows] for k, v in feats.items()}
        signal = voxel_signal(sub_feats, z[rows], enc)
        sig_row = {int(i): k for k, i in enumerate(ids_s)}
        n_sess = spec.sessions[s]
        gain = (1.0 + 0.15 * rng.standard_normal(n_sess)).astype(np.float32)
        offset = (0.5 * rng.standard_normal((n_sess, len(enc["ncsnr"])))).astype(np.float32)
        roi = mask > 0
        cortex = mask == 0
        for sess in tqdm(range(1, n_sess + 1), desc=f"subj{s:02d} sessions", disable=not progress):
            t_ids = trials[s][(sess - 1) * TRIALS_PER_SESSION : sess * TRIALS_PER_SESSION]
            sig = signal[[sig_row[int(i)] for i in t_ids]]
            noise = rng.standard_normal(sig.shape, dtype=np.float32)
            psc = enc["baseline_psc"] + offset[sess - 1] + gain[sess - 1] * enc["scale_psc"] * (
                enc["ncsnr"] * sig + noise
            )
            vol = np.zeros((TRIALS_PER_SESSION,) + spec.grid, np.int16)  # (750, X, Y, Z)
            vol[:, roi] = _to_int16(psc)
            vol[:, cortex] = _to_int16(rng.standard_normal((TRIALS_PER_SESSION, cortex.sum()), np.float32))
            if "hdf5" in betas_formats:
                h5 = path("betas_hdf5", subject=s, session=sess)
                h5.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(h5) as tmp, h5py.File(tmp, "w") as f:
                    f.create_dataset("betas", data=vol.transpose(0, 3, 2, 1), chunks=(1,) + spec.grid[::-1])
            if "nifti" in betas_formats:
                _write_nifti(path("betas_nifti", subject=s, session=sess), np.moveaxis(vol, 0, -1))
        gt = out / f"nsddata/ppdata/subj{s:02d}/synthetic_ground_truth.h5"
        with atomic_path(gt) as tmp, h5py.File(tmp, "w") as f:
            for k, v in enc.items():
                f[f"encoding/{k}"] = v
            for k, v in latent_model.items():
                f[f"latent_model/{k}"] = v
            f["trial_ids"] = trials[s]
            f["signal"] = signal
            f["signal_ids"] = ids_s
            f["latent"] = z[rows]
            f["session_gain"] = gain
            f["session_offset"] = offset
            f.attrs["seed"] = seed
            f.attrs["size"] = size
            f.attrs["sessions"] = n_sess
            f.attrs["model"] = "see ridge_decode.simulate module docstring"
    write_json(
        out / "synthetic.json",
        {"seed": seed, "size": size, "subjects": subjects, "sessions": spec.sessions,
         "n_voxels": spec.n_voxels, "grid": spec.grid, "image_size": image_size,
         "betas_formats": list(betas_formats), "n_stimuli_written": len(used)},
    )
    return out


def _to_int16(psc: np.ndarray) -> np.ndarray:
    info = np.iinfo(np.int16)
    return np.clip(np.rint(psc * BETA_SCALE), info.min, info.max).astype(np.int16)


def _write_captions(out: Path, manifest, used: np.ndarray, metas: list[dict], seed: int) -> None:
    by_split: dict[str, dict[str, list]] = {
        "train2017": {"images": [], "annotations": []},
        "val2017": {"images": [], "annotations": []},
    }
    ann_id = 0
    for i, meta in zip(used, metas, strict=True):
        split = by_split[coco_split(int(i))]
        cid = coco_id(int(i))
        split["images"].append({"id": cid, "file_name": f"{cid:012d}.jpg"})
        for caption in _captions(meta, np.random.default_rng([seed, 5, int(i)])):
            ann_id += 1
            split["annotations"].append({"image_id": cid, "id": ann_id, "caption": caption})
    for key, split in (("captions_train", "train2017"), ("captions_val", "val2017")):
        p = entry_path(key, out, manifest=manifest)
        p.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(p) as tmp:
            tmp.write_text(json.dumps(by_split[split]))
