"""Real neural responses to natural images: macaque V4 (Cowley, Stan, Pillow & Smith 2023), as own data.

The data are spike counts of 55 to 89 V4 neurons (100 ms bins, averaged over 6 to 12 repeats) to 1,200 natural
images of 112 x 112 pixels per test session, from the public repository ``cowleygroup/V4_compact_models``
(GPL-3.0). ``fetch`` downloads a session's two files into ``<dest>`` (``responses_<session>.npy`` and
``images_<session>.zip``, as the repository names them); ``to_hdf5`` writes them as the package's own-data file
(``--input``), the last ``N_TEST`` images held out. Each file is checked against the size and sha256 recorded
below (``DIGESTS``) by the package's one downloader (``download.py``): a damaged file in ``<dest>`` is fetched
again, a cut download resumes, an HTML page is refused. These are neurons, not voxels: the package's own-data path and
ridge run on them unchanged, which shows the decoding chain on real noise, not how fMRI of NSD will decode.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from ..errors import DataFileError, DataFormatError, InputError
from ..runtime.io import atomic_path
from .download import WRITE_ERRNOS, fetch_file, output_error, problem

REPOSITORY = "cowleygroup/V4_compact_models"
COMMIT = "d2e996d0044f49e1bf48c388295f2d214e56f405"  # the repository's commit the paths below were read at
URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/data_V4_responses"
URL_ENV = "RIDGE_DECODE_V4_URL"  # another base URL with the same layout (a mirror), read at each fetch
SESSIONS = {"201025": 89, "210225": 55}  # the test sessions of 1,200 "normal" images: session -> neurons
N_IMAGES, IMAGE_SIDE = 1200, 112
N_TEST = 200  # the last 200 images are held out
# size (bytes) and sha256 of each file at COMMIT, computed from the project's copy of those files
DIGESTS = {
    "responses_201025.npy": (854528, "f729f3dc0d29aa38bd380c0da9e39aba916f9e2580949929b65d1714e7217a8a"),
    "images_201025.zip": (4131376, "3abb63679107665eab7220bdeaf7863832a1df943bf3d7792501f5082a55b2e8"),
    "responses_210225.npy": (528128, "853f196247504fa2526b507f56ee5237711ed166f295f7cb23ec5441a7bf789b"),
    "images_210225.zip": (4137526, "79bfb1066949a7f7bbd3c632ab420c2230b966b80cade76593d8745aea49b7f6"),
}


def files(session: str) -> dict[str, str]:
    """The two files of ``session``: {local name: path in the repository, under data_V4_responses/}."""
    _check_session(session)
    return {f"responses_{session}.npy": f"responses_repeat_averaged/responses_{session}.npy",
            f"images_{session}.zip": f"images/images_{session}.zip"}


def _check_session(session: str) -> None:
    if session not in SESSIONS:
        raise InputError(f"--session must be one of {sorted(SESSIONS)} (the test sessions of 1,200 images); got "
                         f"{session!r}")


def fetch(dest, session: str = "201025", echo=print, progress: bool = True) -> Path:
    """Download ``session``'s files from the public repository into ``dest``, each checked against its recorded
    size and sha256 (a matching file already there is kept, a damaged one fetched again); returns ``dest``. Each
    file appears whole or not at all."""
    dest = Path(dest)
    for name, remote in files(session).items():
        size, sha256 = DIGESTS[name]
        url = f"{os.environ.get(URL_ENV) or URL}/{remote}"
        if not (dest / name).is_file() or problem(dest / name, size):
            echo(f"fetching {url}")
        fetch_file(url, dest / name, size=size, sha256=sha256, progress=progress, echo=echo,
                   hint=f"or copy {name} from the repository {REPOSITORY} (data_V4_responses/{remote}, commit "
                        f"{COMMIT[:7]}) into {dest}")
    return dest


def read(folder, session: str = "201025") -> tuple[np.ndarray, np.ndarray]:
    """(responses (1200, neurons) float64, images (1200, 112, 112, 3) uint8) of ``session`` under ``folder``;
    image i of the zip (``image0001.jpg`` ...) goes with response row i."""
    folder = Path(folder)
    names = list(files(session))
    for name in names:
        if not (folder / name).exists():
            raise DataFileError(f"{folder / name} is missing: download it with python scripts/fetch_macaque_v4.py "
                                f"--dest {folder} --session {session}")
    try:
        responses = np.load(folder / names[0])
    except (ValueError, OSError, EOFError) as exc:
        raise _damaged(folder / names[0], session, exc) from None
    if responses.shape != (SESSIONS[session], N_IMAGES):
        raise DataFormatError(f"{folder / names[0]}: expected (neurons {SESSIONS[session]}, images {N_IMAGES}); "
                              f"found {responses.shape}")
    try:
        with zipfile.ZipFile(folder / names[1]) as z:
            members = sorted(m for m in z.namelist() if m.lower().endswith(".jpg"))
            if len(members) != N_IMAGES:
                raise DataFormatError(f"{folder / names[1]}: expected {N_IMAGES} jpg images; found {len(members)}")
            images = np.stack([np.asarray(Image.open(z.open(m)).convert("RGB")) for m in members])
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _damaged(folder / names[1], session, exc) from None
    return responses.T.astype(np.float64), images


def _damaged(path: Path, session: str, exc: Exception) -> DataFormatError:
    return DataFormatError(f"{path} cannot be read ({type(exc).__name__}: {str(exc)[:160]}): a damaged or "
                           f"truncated copy; run `ridge-decode fetch-macaque-v4 --dest {path.parent} --session "
                           f"{session}`, which checks each file and fetches a damaged one again")


def to_hdf5(folder, out, session: str = "201025", n_test: int = N_TEST) -> Path:
    """Write ``session`` (under ``folder``) as an own-data HDF5 file at ``out``: every neuron a column of
    ``train/betas`` and ``test/betas`` (the last ``n_test`` images held out), ids 0..1199, and the images."""
    responses, images = read(folder, session)
    ids = np.arange(len(images), dtype=np.int64)
    split = len(ids) - n_test
    try:
        with atomic_path(Path(out)) as tmp, h5py.File(tmp, "w") as f:
            f["train/betas"], f["train/ids"] = responses[:split], ids[:split]
            f["test/betas"], f["test/ids"] = responses[split:], ids[split:]
            f["images"], f["image_ids"] = images, ids
            f.attrs["source"] = (f"macaque V4, session {session} ({REPOSITORY}, Cowley et al. 2023, GPL-3.0): "
                                 f"{responses.shape[1]} neurons")
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        raise output_error(Path(out).parent, "--hdf5", exc) from None
    return Path(out)
