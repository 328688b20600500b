"""Real fMRI of natural images: Kay, Naselaris, Prenger & Gallant (2008), "vim-1", as own data.

The Neuromatch Academy copy ``kay_images.npz`` (OSF project ``ymnjv``) holds, for subject S1, 1,750 training and
120 test grayscale natural images of 128 x 128 pixels, and the z-scored BOLD response amplitudes of 8,428 voxels
of V1, V2, V3, V3A, V3B, V4 and lateral occipital cortex (LatOcc) to each, with each voxel's area. ``fetch``
downloads it through the package's one downloader (``download.py``), checked against its recorded size and sha256;
``to_hdf5`` writes it as the package's own-data file (``--input``): the paper's 1,750 / 120 split, the images as
8-bit RGB (the gray value in each channel), and each voxel's area as ``voxel_roi`` with the names in ``roi_names``.
The layout (``LAYOUT``) is the one the course's loader reads (``dat["stimuli"]`` ... ``dat["roi_names"]``); it
reproduces the recorded size of the file to the byte when saved with ``numpy.savez``. The real file has not been
downloaded or converted by this project's tests (no machine here reaches OSF): they run on generated files.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataFileError, DataFormatError, InputError
from ..runtime.io import atomic_path
from .download import WRITE_ERRNOS, fetch_file, output_error, problem

FILE = "kay_images.npz"
URL = "https://osf.io/ymnjv/download"  # the OSF file the course's loader downloads
URL_ENV = "RIDGE_DECODE_KAY_URL"  # another URL of the same file (a mirror), read at each fetch
DEFAULT_DEST = "data/kay2008"  # fetch-kay2008's --dest
SIZE = 248_704_338  # bytes, and sha256: from a Git LFS record of the same file
SHA256 = "5ac45426ebeb4ddb21dea424609891c015000dd4c54be84e99516b66f47bb7ba"
N_TRAIN, N_TEST, N_VOXELS, IMAGE_SIDE = 1750, 120, 8428, 128
ROI_NAMES = ("Other", "V1", "V2", "V3", "V3A", "V3B", "V4", "LatOcc")  # "Other" has no voxel in this copy
# key -> (dtype, shape with named sizes): n = training images, m = test images, s = image side, p = voxels
LAYOUT = {
    "stimuli": ("float32", ("n", "s", "s")),
    "stimuli_test": ("float32", ("m", "s", "s")),
    "responses": ("float64", ("n", "p")),
    "responses_test": ("float64", ("m", "p")),
    "roi": ("int64", ("p",)),
    "roi_names": ("<U6", ("k",)),
}
SIZES = {"n": N_TRAIN, "m": N_TEST, "s": IMAGE_SIDE, "p": N_VOXELS, "k": len(ROI_NAMES)}
HINT = (f"or download {URL} (the Neuromatch Academy copy of Kay et al. 2008, OSF project ymnjv) by hand, save it "
        f"as {FILE} in that folder and run the command again (it is checked, not fetched again)")


def fetch(dest, echo=print, progress: bool = True) -> Path:
    """Download ``kay_images.npz`` into ``dest`` (249 MB), checked against its recorded size and sha256; a matching
    file already there is kept, a damaged one fetched again. Returns the file's path."""
    path = Path(dest) / FILE
    url = os.environ.get(URL_ENV) or URL
    if not path.is_file() or problem(path, SIZE):
        echo(f"fetching {url} ({SIZE / 1e6:.0f} MB)")
    return fetch_file(url, path, size=SIZE, sha256=SHA256, hint=HINT, progress=progress, echo=echo)


def read(path, strict: bool = False) -> dict[str, np.ndarray]:
    """The arrays of ``kay_images.npz`` at ``path``, checked against ``LAYOUT``: the keys, dtypes (a float or
    integer kind suffices unless ``strict``) and shapes that agree with one another (with ``strict``, the real
    file's sizes). Raises DataFileError for a missing file and DataFormatError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path} is missing: download it with `ridge-decode fetch-kay2008 --dest {path.parent}`")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataFormatError(f"{path} cannot be read as a .npz ({type(exc).__name__}: {str(exc)[:160]}): a damaged "
                              f"or truncated copy; run `ridge-decode fetch-kay2008 --dest {path.parent}`, which "
                              "checks the file and fetches a damaged one again") from None
    missing = [k for k in LAYOUT if k not in arrays]
    if missing:
        raise DataFormatError(f"{path}: no array {', '.join(map(repr, missing))}; expected the keys "
                              f"{list(LAYOUT)} (found {sorted(arrays)})")
    sizes: dict[str, int] = dict(SIZES) if strict else {}
    for key, (dtype, dims) in LAYOUT.items():
        x = arrays[key]
        kinds = {"f": "f", "i": "iu", "U": "US"}[np.dtype(dtype).kind]  # what a loose copy may use instead
        if (x.dtype != np.dtype(dtype)) if strict else x.dtype.kind not in kinds:
            raise DataFormatError(f"{path}: array {key!r}: expected dtype {dtype}; found {x.dtype}")
        if x.ndim != len(dims):
            raise DataFormatError(f"{path}: array {key!r}: expected shape ({', '.join(dims)}); found {x.shape}")
        for name, n in zip(dims, x.shape, strict=True):
            if sizes.setdefault(name, n) != n:
                raise DataFormatError(f"{path}: array {key!r} of shape {x.shape}: its size {name} = {n} differs from "
                                      f"{sizes[name]} (the other arrays'{', the real file' if strict else ''}); "
                                      f"expected shapes: " + ", ".join(f"{k} ({', '.join(d)})"
                                                                        for k, (_, d) in LAYOUT.items()))
    roi, k = arrays["roi"], len(arrays["roi_names"])
    if roi.size and (roi.min() < 0 or roi.max() >= k):
        raise DataFormatError(f"{path}: array 'roi': labels index roi_names (0..{k - 1}); found {roi.min()}.."
                              f"{roi.max()}")
    return arrays


def to_uint8_rgb(images: np.ndarray, lo: float, hi: float, side: int) -> np.ndarray:
    """Grayscale float images (N, H, W) as (N, side, side, 3) uint8: ``lo..hi`` mapped linearly onto 0..255 (the
    same map for every image, so contrast between images is kept), resized with PIL's bicubic filter if
    ``side`` differs from H."""
    from PIL import Image

    x = np.clip((images.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0)
    gray = np.round(x * 255).astype(np.uint8)
    if gray.shape[1:] != (side, side):
        gray = np.stack([np.asarray(Image.fromarray(g).resize((side, side), Image.BICUBIC)) for g in gray])
    return np.repeat(gray[..., None], 3, axis=-1)


def to_hdf5(npz, out, rois=None, image_side: int = IMAGE_SIDE, strict: bool = False) -> Path:
    """Write ``kay_images.npz`` (at ``npz``) as an own-data HDF5 file at ``out``: ``train/betas`` (1750, p) and
    ``test/betas`` (120, p) float32, ids 0..1749 and 1750..1869, ``images`` (1870, side, side, 3) uint8, and
    ``voxel_roi`` (p,) int with ``roi_names``. ``rois`` (names, e.g. ``["V1", "V2"]``) keeps only those areas'
    voxels. Images in [0, 1] map to 0..255 as they are; otherwise the range of all images does."""
    import h5py

    data = read(npz, strict=strict)
    names = [str(n) for n in data["roi_names"]]
    keep = np.ones(len(data["roi"]), dtype=bool)
    if rois:
        unknown = [r for r in rois if r not in names]
        if unknown:
            raise InputError(f"--rois: no area {', '.join(map(repr, unknown))} in {npz}; its areas: "
                             f"{', '.join(n for i, n in enumerate(names) if (data['roi'] == i).any())}")
        keep = np.isin(data["roi"], [names.index(r) for r in rois])
    stimuli = np.concatenate([data["stimuli"], data["stimuli_test"]])
    lo, hi = float(stimuli.min()), float(stimuli.max())
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0  # already in [0, 1]: keep the values as they are, no stretch
    elif hi <= lo:
        raise DataFormatError(f"{npz}: every image has the value {lo}: not images")
    n, m = len(data["stimuli"]), len(data["stimuli_test"])
    ids = np.arange(n + m, dtype=np.int64)
    try:
        with atomic_path(Path(out)) as tmp, h5py.File(tmp, "w") as f:
            f["train/betas"] = data["responses"][:, keep].astype(np.float32)
            f["test/betas"] = data["responses_test"][:, keep].astype(np.float32)
            f["train/ids"], f["test/ids"] = ids[:n], ids[n:]
            f["images"] = to_uint8_rgb(stimuli, lo, hi, image_side)
            f["image_ids"] = ids
            f["voxel_roi"] = data["roi"][keep].astype(np.int64)
            f["roi_names"] = np.array(names, dtype=h5py.string_dtype())
            f.attrs["image_range"] = (lo, hi)  # the gray values mapped onto 0 and 255
            f.attrs["source"] = (f"Kay, Naselaris, Prenger & Gallant (2008), vim-1, subject S1, the Neuromatch "
                                 f"Academy copy {FILE}: {int(keep.sum())} voxels"
                                 + (f" of {', '.join(rois)}" if rois else ""))
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        raise output_error(Path(out).parent, "--hdf5", exc) from None
    return Path(out)


def voxel_rois(path) -> dict[str, np.ndarray]:
    """``{area: column indices of the betas}`` of an own-data file that ``to_hdf5`` wrote (areas with voxels)."""
    import h5py

    with h5py.File(path, "r") as f:
        if "voxel_roi" not in f or "roi_names" not in f:
            raise DataFormatError(f"{path}: no datasets 'voxel_roi' and 'roi_names': write it with "
                                  "`ridge-decode fetch-kay2008 --hdf5 FILE`")
        roi = f["voxel_roi"][()]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["roi_names"][()]]
    return {name: np.flatnonzero(roi == i) for i, name in enumerate(names) if (roi == i).any()}
