"""Real neural responses to natural images: macaque V4 (Cowley, Stan, Pillow & Smith 2023), as own data.

The data are spike counts of 55 to 89 V4 neurons (100 ms bins, averaged over 6 to 12 repeats) to 1,200 natural
images of 112 x 112 pixels per test session, from the public repository ``cowleygroup/V4_compact_models``
(GPL-3.0). ``fetch`` downloads a session's two files into ``<dest>`` (``responses_<session>.npy`` and
``images_<session>.zip``, as the repository names them); ``to_hdf5`` writes them as the package's own-data file
(``--input``), the last ``N_TEST`` images held out. These are neurons, not voxels: the package's own-data path and
ridge run on them unchanged, which shows the decoding chain on real noise, not how fMRI of NSD will decode.
"""

from __future__ import annotations

import os
import urllib.request
import zipfile
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from ..errors import DataFileError, DataFormatError, InputError
from ..runtime.io import atomic_path

REPOSITORY = "cowleygroup/V4_compact_models"
COMMIT = "d2e996d0044f49e1bf48c388295f2d214e56f405"  # the repository's commit the paths below were read at
URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/data_V4_responses"
URL_ENV = "RIDGE_DECODE_V4_URL"  # another base URL with the same layout (a mirror), read at each fetch
SESSIONS = {"201025": 89, "210225": 55}  # the test sessions of 1,200 "normal" images: session -> neurons
N_IMAGES, IMAGE_SIDE = 1200, 112
N_TEST = 200  # the last 200 images are held out


def files(session: str) -> dict[str, str]:
    """The two files of ``session``: {local name: path in the repository, under data_V4_responses/}."""
    _check_session(session)
    return {f"responses_{session}.npy": f"responses_repeat_averaged/responses_{session}.npy",
            f"images_{session}.zip": f"images/images_{session}.zip"}


def _check_session(session: str) -> None:
    if session not in SESSIONS:
        raise InputError(f"--session must be one of {sorted(SESSIONS)} (the test sessions of 1,200 images); got "
                         f"{session!r}")


def fetch(dest, session: str = "201025", echo=print) -> Path:
    """Download ``session``'s files from the public repository into ``dest`` (a file already there is kept);
    returns ``dest``. Each file appears whole or not at all."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, remote in files(session).items():
        path = dest / name
        if path.exists():
            continue
        url = f"{os.environ.get(URL_ENV) or URL}/{remote}"
        echo(f"fetching {url}")
        try:
            with urllib.request.urlopen(url, timeout=60) as response, atomic_path(path) as tmp:  # noqa: S310
                Path(tmp).write_bytes(response.read())
        except OSError as exc:
            raise DataFileError(f"could not fetch {url} ({exc}): copy {name} from the repository {REPOSITORY} "
                                f"(data_V4_responses/{remote}) into {dest}") from None
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
    responses = np.load(folder / names[0])
    if responses.shape != (SESSIONS[session], N_IMAGES):
        raise DataFormatError(f"{folder / names[0]}: expected (neurons {SESSIONS[session]}, images {N_IMAGES}); "
                              f"found {responses.shape}")
    with zipfile.ZipFile(folder / names[1]) as z:
        members = sorted(m for m in z.namelist() if m.lower().endswith(".jpg"))
        if len(members) != N_IMAGES:
            raise DataFormatError(f"{folder / names[1]}: expected {N_IMAGES} jpg images; found {len(members)}")
        images = np.stack([np.asarray(Image.open(z.open(m)).convert("RGB")) for m in members])
    return responses.T.astype(np.float64), images


def to_hdf5(folder, out, session: str = "201025", n_test: int = N_TEST) -> Path:
    """Write ``session`` (under ``folder``) as an own-data HDF5 file at ``out``: every neuron a column of
    ``train/betas`` and ``test/betas`` (the last ``n_test`` images held out), ids 0..1199, and the images."""
    responses, images = read(folder, session)
    ids = np.arange(len(images), dtype=np.int64)
    split = len(ids) - n_test
    with atomic_path(Path(out)) as tmp, h5py.File(tmp, "w") as f:
        f["train/betas"], f["train/ids"] = responses[:split], ids[:split]
        f["test/betas"], f["test/ids"] = responses[split:], ids[split:]
        f["images"], f["image_ids"] = images, ids
        f.attrs["source"] = (f"macaque V4, session {session} ({REPOSITORY}, Cowley et al. 2023, GPL-3.0): "
                             f"{responses.shape[1]} neurons")
    return Path(out)
