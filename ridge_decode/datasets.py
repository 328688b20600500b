"""The data home: one folder for every dataset that the examples and the demo write or download, as
scikit-learn's ``get_data_home`` and nilearn's ``data_dir``.

The folder is ``$RIDGE_DECODE_DATA`` where it is set (the same variable names the NSD root of the commands: NSD's
``nsddata/`` tree may sit beside these datasets), else ``~/ridge_decode_data``. Each dataset lives in its own
sub-folder, is written once, and is reused by every later call; its size on disk is said when it is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .errors import DataFileError, InputError
from .sources.manifest import DATA_ENV

DEFAULT_HOME = "~/ridge_decode_data"
V4_ENV = "RIDGE_DECODE_V4_DIR"  # a folder that already holds the macaque V4 session files (no download)
KAY_ENV = "RIDGE_DECODE_KAY_DIR"  # a folder that already holds Kay et al. (2008)'s kay_images.npz (no download)


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The data home: ``data_home``, else ``$RIDGE_DECODE_DATA``, else ``~/ridge_decode_data``; created if absent.

    Returns the folder as an absolute ``Path``.
    """
    home = Path(data_home if data_home is not None else os.environ.get(DATA_ENV) or DEFAULT_HOME).expanduser()
    if home.exists() and not home.is_dir():
        named = "data_home" if data_home is not None else (f"${DATA_ENV}" if os.environ.get(DATA_ENV) else
                                                           "the default data home")
        raise InputError(f"{named}: expected a folder, found a file at {home}")
    home.mkdir(parents=True, exist_ok=True)
    return home.resolve()


def disk_size(path: str | os.PathLike) -> int:
    """Bytes of the files under ``path`` (a file: its size)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def format_size(n_bytes: int) -> str:
    """``n_bytes`` in the largest unit that leaves at least 1 (``"470 MB"``, decimal units as ``du --si``)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes} B"


def fetch_synthetic(name: str = "synthetic", size: str = "small", subjects=(1, 2), preset: str = "nsd",
                    seed: int = 0, data_home=None, echo: Callable[[str], None] = print) -> Path:
    """The synthetic subjects of ``simulate`` (NSD's file layout) in ``<data home>/<name>``, written once.

    A folder that already holds a complete simulation (its ``synthetic.json``) is reused when it was made with the
    same ``size``, ``preset`` and ``seed`` (missing ``subjects`` are added); made otherwise, it is an error naming
    what differs (give another ``name``). A new folder is written by ``simulate(root, size, subjects, seed,
    preset)`` (about 0.44 GB for the default "small" pair) and ``echo`` says its size. Returns the root to pass to
    ``NSDSource``.
    """
    from .simulation import simulate

    if not name or Path(name).name != name:
        raise InputError(f"name must be one folder name inside the data home; got {name!r}")
    root = get_data_home(data_home) / name
    if (root / "synthetic.json").exists():
        # simulate returns at once for the same settings, adds missing subjects, and refuses other settings
        simulate(root, size=size, subjects=subjects, seed=seed, preset=preset, progress=False)
        return root
    echo(f"writing the synthetic subjects {list(subjects)} ({size}, preset {preset!r}) to {root} ...")
    simulate(root, size=size, subjects=subjects, seed=seed, preset=preset, progress=False)
    echo(f"wrote {format_size(disk_size(root))} to {root} (reused from now on; delete the folder to free it)")
    return root


def fetch_macaque_v4(session: str = "201025", data_home=None, echo: Callable[[str], None] = print) -> Path:
    """Real macaque V4 responses to 1,200 natural images (Cowley et al. 2023) as an own-data HDF5 file.

    The session's two files come from ``$RIDGE_DECODE_V4_DIR`` where it is set, else from
    ``<data home>/macaque_v4``, downloaded there from the data's public repository when absent. The HDF5 file is
    written once, beside them in the data home.

    Parameters
    ----------
    session : str
        The recording session, e.g. "201025" or "210225".
    data_home : str or Path, optional
        The data home; default ``$RIDGE_DECODE_DATA``, else ``~/ridge_decode_data``.
    echo : callable
        Where progress messages go (the sizes written).

    Returns
    -------
    Path
        The HDF5 file, ``HDF5Source``'s input: ``train/betas`` and ``test/betas`` float (n, neurons) spike counts
        averaged over repeats (1,200 images, the last 200 held out), their image ids, and ``images`` uint8
        (1200, 112, 112, 3).

    Raises
    ------
    DataFileError
        The files are neither local nor downloadable: names them and the variable that provides them.
    """
    from .sources import macaque_v4

    home = get_data_home(data_home)
    out = home / f"macaque_v4_{session}.h5"
    if out.exists():
        return out
    local = os.environ.get(V4_ENV)
    folder = Path(local) if local else home / "macaque_v4"
    if local:
        missing = [n for n in macaque_v4.files(session) if not (folder / n).exists()]
        if missing:
            raise DataFileError(f"${V4_ENV} is {folder}, which lacks {missing}: copy them there from the repository "
                                f"{macaque_v4.REPOSITORY} (data_V4_responses/), or unset {V4_ENV} to download them")
    else:
        try:
            macaque_v4.fetch(folder, session, echo=echo)
        except DataFileError as exc:
            raise DataFileError(f"the macaque V4 data of session {session} ({', '.join(macaque_v4.files(session))}) "
                                f"are not in {folder} and could not be downloaded. Set {V4_ENV} to a folder that "
                                f"holds them, or fetch them where there is network with `python "
                                f"scripts/fetch_macaque_v4.py --dest {folder} --session {session}`. "
                                f"Detail: {exc}") from None
    macaque_v4.to_hdf5(folder, out, session)
    echo(f"wrote {format_size(disk_size(out))} to {out} (reused from now on)")
    return out


def fetch_kay2008(data_home=None, echo: Callable[[str], None] = print) -> Path:
    """Real fMRI: Kay et al. (2008) "vim-1" (1,750 training and 120 test grayscale natural images, 8,428 voxels of
    V1-V4 and lateral occipital cortex) as an own-data HDF5 file.

    ``kay_images.npz`` (the Neuromatch Academy copy, 249 MB) comes from ``$RIDGE_DECODE_KAY_DIR`` where it is set,
    else from ``<data home>/kay2008``, downloaded there from OSF when absent (size and sha256 checked). The HDF5
    file is written once, in the data home.

    Parameters
    ----------
    data_home : str or Path, optional
        The data home; default ``$RIDGE_DECODE_DATA``, else ``~/ridge_decode_data``.
    echo : callable
        Where progress messages go (the sizes written).

    Returns
    -------
    Path
        The HDF5 file, ``HDF5Source``'s input: ``train/betas`` (1750, 8428) and ``test/betas`` (120, 8428)
        float32, their image ids, ``images`` (1870, 128, 128, 3) uint8, and each voxel's area in ``voxel_roi``
        (8428,) int indexing ``roi_names``.

    Raises
    ------
    DataFileError
        The file is neither local nor downloadable: names it, the command and the variable that provide it.
    """
    from .sources import kay2008

    home = get_data_home(data_home)
    out = home / "kay2008.h5"
    if out.exists():
        return out
    local = os.environ.get(KAY_ENV)
    if local:
        npz = Path(local) / kay2008.FILE
        if not npz.is_file():
            raise DataFileError(f"${KAY_ENV} is {local}, which lacks {kay2008.FILE}: put the file there (`ridge-decode "
                                f"fetch-kay2008 --dest {local}` downloads it), or unset {KAY_ENV} to download it")
    else:
        try:
            npz = kay2008.fetch(home / "kay2008", echo=echo)
        except DataFileError as exc:
            raise DataFileError(f"Kay et al. (2008)'s {kay2008.FILE} (249 MB) is not in {home / 'kay2008'} and could "
                                f"not be downloaded. Set {KAY_ENV} to a folder that holds it, or fetch it where there "
                                f"is network with `ridge-decode fetch-kay2008 --dest {home / 'kay2008'}`. "
                                f"Detail: {exc}") from None
    kay2008.to_hdf5(npz, out)
    echo(f"wrote {format_size(disk_size(out))} to {out} (reused from now on)")
    return out
