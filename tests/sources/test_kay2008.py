"""Kay et al. (2008) "vim-1" as own data: the converter on a generated kay_images.npz with the real file's keys,
dtypes and layout (small sizes), and fetch-kay2008 against a loopback server. The real file (249 MB on OSF) is not
reachable from here; its layout was taken from the course's loader and checked against its recorded size."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from hub_server import Hub

from ridge_decode.cli import main
from ridge_decode.errors import DataFormatError, InputError
from ridge_decode.sources import HDF5Source, kay2008
from ridge_decode.sources.hdf5 import validate

N, M, P, SIDE = 40, 12, 30, 16
ROIS = np.array(["Other", "V1", "V2", "V3", "V3A", "V3B", "V4", "LatOcc"])


def make_npz(path: Path, seed: int = 0, **override) -> dict:
    """A small kay_images.npz: the real file's keys and dtypes, N training and M test images of SIDE pixels, P
    voxels labelled 1..7 (no "Other", as in the real copy)."""
    rng = np.random.default_rng(seed)
    arrays = {
        "stimuli": rng.normal(0.2, 0.3, (N, SIDE, SIDE)).astype(np.float32),
        "stimuli_test": rng.normal(0.2, 0.3, (M, SIDE, SIDE)).astype(np.float32),
        "responses": rng.standard_normal((N, P)),
        "responses_test": rng.standard_normal((M, P)),
        "roi": np.resize(np.arange(1, 8, dtype=np.int64), P),
        "roi_names": ROIS,
    } | override
    np.savez(path, **arrays)
    return arrays


def test_the_layout_reproduces_the_recorded_size_of_the_real_file(tmp_path):
    """The keys, dtypes and shapes of LAYOUT, saved as the course's copy was (np.savez), make exactly the number
    of bytes the Git LFS record gives: the layout is the real file's, not a guess."""
    shapes = {k: tuple(kay2008.SIZES[d] for d in dims) for k, (_, dims) in kay2008.LAYOUT.items()}
    arrays = {k: np.zeros(shapes[k], dtype) for k, (dtype, _) in kay2008.LAYOUT.items()}
    arrays["roi_names"] = np.array(kay2008.ROI_NAMES)
    np.savez(tmp_path / "k.npz", **arrays)
    assert (tmp_path / "k.npz").stat().st_size == kay2008.SIZE
    assert kay2008.read(tmp_path / "k.npz", strict=True)["responses"].shape == (1750, 8428)


def test_the_converter_writes_a_valid_own_data_file(tmp_path):
    arrays = make_npz(tmp_path / "kay_images.npz")
    out = kay2008.to_hdf5(tmp_path / "kay_images.npz", tmp_path / "kay.h5")
    data = validate(out)  # the own-data validator accepts it
    assert data.n_voxels == P and list(data.train_ids) == list(range(N))
    assert list(data.test_ids) == list(range(N, N + M))
    np.testing.assert_allclose(data.train_betas, arrays["responses"].astype(np.float32))
    np.testing.assert_allclose(data.test_betas, arrays["responses_test"].astype(np.float32))
    with h5py.File(out) as f:
        images = f["images"][()]
        assert images.shape == (N + M, 128, 128, 3) and images.dtype == np.uint8
        assert (images[..., 0] == images[..., 2]).all()  # gray in every channel
        lo, hi = f.attrs["image_range"]
        assert "Kay" in f.attrs["source"] and f"{P} voxels" in f.attrs["source"]
    # the gray values: one linear map for all images (their range onto 0..255), then the resize to 128
    stimuli = np.concatenate([arrays["stimuli"], arrays["stimuli_test"]])
    assert (lo, hi) == (stimuli.min(), stimuli.max())
    from PIL import Image

    expected = np.round((stimuli[5].astype(np.float64) - lo) / (hi - lo) * 255).astype(np.uint8)
    expected = np.asarray(Image.fromarray(expected).resize((128, 128), Image.BICUBIC))
    np.testing.assert_array_equal(images[5, ..., 1], expected)
    rois = kay2008.voxel_rois(out)
    assert list(rois) == list(ROIS[1:])
    for i, name in enumerate(ROIS):
        if i:
            np.testing.assert_array_equal(rois[name], np.flatnonzero(arrays["roi"] == i))
    assert HDF5Source(out).images().read(np.array([N + 1])).shape == (1, 128, 128, 3)


def test_images_already_in_0_1_are_not_stretched(tmp_path):
    rng = np.random.default_rng(1)
    stimuli = rng.uniform(0.25, 0.75, (N, 128, 128)).astype(np.float32)
    make_npz(tmp_path / "k.npz", stimuli=stimuli, stimuli_test=stimuli[:M])
    out = kay2008.to_hdf5(tmp_path / "k.npz", tmp_path / "k.h5")
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["images"][3, ..., 0], np.round(stimuli[3].astype(np.float64) * 255))
        assert tuple(f.attrs["image_range"]) == (0.0, 1.0)


def test_rois_keep_only_those_voxels(tmp_path):
    arrays = make_npz(tmp_path / "k.npz")
    out = kay2008.to_hdf5(tmp_path / "k.npz", tmp_path / "v1v4.h5", rois=["V1", "V4"])
    keep = np.isin(arrays["roi"], [1, 6])
    np.testing.assert_allclose(validate(out).train_betas, arrays["responses"][:, keep].astype(np.float32))
    assert set(kay2008.voxel_rois(out)) == {"V1", "V4"}
    with pytest.raises(InputError, match=r"--rois: no area 'V9'.*its areas: V1, V2, V3, V3A, V3B, V4, LatOcc"):
        kay2008.to_hdf5(tmp_path / "k.npz", tmp_path / "x.h5", rois=["V9"])


@pytest.mark.parametrize(("override", "message"), [
    ({"roi": None}, r"no array 'roi'"),
    ({"responses": np.zeros((N, P + 1))},
     r"array .responses_test. of shape \(12, 30\): its size p = 30 differs from 31"),
    ({"stimuli_test": np.zeros((M, SIDE, SIDE + 2), np.float32)}, r"array 'stimuli_test'.*its size s = 18 differs"),
    ({"responses": np.zeros((N, P), np.complex64)}, r"array 'responses': expected dtype float64; found complex64"),
    ({"roi": np.full(P, 9)}, r"array 'roi': labels index roi_names \(0..7\); found 9..9"),
])
def test_a_wrong_file_is_one_clear_error(tmp_path, override, message):
    arrays = make_npz(tmp_path / "k.npz")
    for k, v in override.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    np.savez(tmp_path / "k.npz", **arrays)
    with pytest.raises(DataFormatError, match=message):
        kay2008.to_hdf5(tmp_path / "k.npz", tmp_path / "k.h5")
    assert not (tmp_path / "k.h5").exists()


def test_strict_holds_a_file_to_the_real_sizes(tmp_path):
    make_npz(tmp_path / "k.npz")
    with pytest.raises(DataFormatError, match=r"array 'stimuli' of shape \(40, 16, 16\): its size n = 40 differs "
                                              r"from 1750 \(the other arrays', the real file\)"):
        kay2008.read(tmp_path / "k.npz", strict=True)


def test_a_truncated_npz_names_the_file_and_the_fix(tmp_path):
    make_npz(tmp_path / "k.npz")
    data = (tmp_path / "k.npz").read_bytes()
    (tmp_path / "k.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"k.npz cannot be read as a .npz .*fetch-kay2008 --dest"):
        kay2008.read(tmp_path / "k.npz")


# --------------------------------------------------------------------------------------------- the fetcher
@pytest.fixture
def osf(tmp_path, monkeypatch):
    """A loopback server holding a generated kay_images.npz, with the recorded size and digest set to its own."""
    make_npz(tmp_path / "source.npz")
    data = (tmp_path / "source.npz").read_bytes()
    monkeypatch.setattr(kay2008, "SIZE", len(data))
    monkeypatch.setattr(kay2008, "SHA256", hashlib.sha256(data).hexdigest())
    with Hub() as hub:
        monkeypatch.setenv(kay2008.URL_ENV, hub.add_file("ymnjv/download", data))
        yield hub, data


def fetch(*args):
    return CliRunner().invoke(main, ["fetch-kay2008", *map(str, args)])


def test_fetch_kay2008_downloads_checks_and_converts(osf, tmp_path):
    hub, data = osf
    res = fetch("--dest", tmp_path / "kay", "--hdf5", tmp_path / "kay.h5", "--rois", "V1,LatOcc")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "kay" / "kay_images.npz").read_bytes() == data and "as recorded" in res.output
    assert set(kay2008.voxel_rois(tmp_path / "kay.h5")) == {"V1", "LatOcc"}
    assert CliRunner().invoke(main, ["check-data", "--input", str(tmp_path / "kay.h5")]).exit_code == 0
    n = len(hub.log)
    res = fetch("--dest", tmp_path / "kay")
    assert res.exit_code == 0 and len(hub.log) == n, res.output  # there and matching: not fetched again
    res = fetch("--dest", tmp_path / "kay", "--hdf5", tmp_path / "x.h5", "--rois", "V7")
    assert res.exit_code == 2 and "--rois: no area 'V7'" in res.output and "This is a bug" not in res.output


def test_fetch_kay2008_faults(osf, tmp_path):
    hub, data = osf
    dest, path = tmp_path / "kay", "/files/ymnjv/download"
    dest.mkdir()
    (dest / "kay_images.npz").write_bytes(data[:1000])  # a truncated earlier download
    hub.faults = {path: "html"}
    res = fetch("--dest", dest)
    assert res.exit_code == 1 and "This is a bug" not in res.output, res.output
    assert f"{dest / 'kay_images.npz'} is damaged (1000 bytes" in res.output
    assert "served an HTML page" in res.output and "osf.io/ymnjv/download" in res.output  # the way by hand
    assert list(dest.iterdir()) == []  # the damaged file went, the HTML never came
    hub.faults = {path: "cut"}
    res = fetch("--dest", dest)
    assert res.exit_code == 1 and "stopped at" in res.output and "run the same command again" in res.output
    hub.faults = {}
    assert fetch("--dest", dest).exit_code == 0 and (dest / "kay_images.npz").read_bytes() == data
    assert hub.log[-1][2] == f"bytes={len(data) // 2}-"  # the rerun resumed
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert sorted(z.namelist()) == sorted(f"{k}.npy" for k in kay2008.LAYOUT)


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gallery" / "plot_11_real_fmri_kay2008.py"


def run_example(cwd: Path, monkeypatch) -> str:
    import contextlib
    import runpy

    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("RIDGE_DECODE_DATA", str(cwd / "data_home"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    return out.getvalue()


def test_the_example_says_what_is_missing(tmp_path, monkeypatch):
    """Without the data and without a way to download it, the gallery example stops at its first cell with the
    package's data error naming the file, the command and the variable that provide it (the docs build lists the
    example as one whose data are missing and goes on)."""
    from ridge_decode.errors import DataFileError

    monkeypatch.delenv("RIDGE_DECODE_KAY_DIR", raising=False)
    monkeypatch.setenv(kay2008.URL_ENV, "http://127.0.0.1:9/closed")
    with pytest.raises(DataFileError) as err:
        run_example(tmp_path, monkeypatch)
    text = str(err.value)
    assert "kay_images.npz (249 MB) is not in" in text and "ridge-decode fetch-kay2008 --dest" in text
    assert "RIDGE_DECODE_KAY_DIR" in text and "cannot reach http://127.0.0.1:9/closed" in text
    monkeypatch.setenv("RIDGE_DECODE_KAY_DIR", str(tmp_path / "empty"))
    with pytest.raises(DataFileError, match=r"\$RIDGE_DECODE_KAY_DIR is .*empty, which lacks kay_images.npz"):
        run_example(tmp_path, monkeypatch)


def test_the_example_runs_on_a_file_of_the_same_layout(tmp_path, monkeypatch):
    """Every cell of the example, on a generated kay_images.npz named by RIDGE_DECODE_KAY_DIR: its code path runs
    (the real file's numbers are not measured here)."""
    (tmp_path / "kay").mkdir()
    make_npz(tmp_path / "kay" / "kay_images.npz")
    monkeypatch.setenv("RIDGE_DECODE_KAY_DIR", str(tmp_path / "kay"))
    text = run_example(tmp_path, monkeypatch)
    assert f"{P} voxels, {N} training and {M} test images" in text
    assert re.search(r"gabor: mean r -?[0-9.]+, identified [0-9.]+% of 12 \(chance 8.3%\)", text), text
    assert re.search(r"LatOcc: +\d+ voxels, identified", text), text
    assert (tmp_path / "data_home" / "kay2008.h5").exists()
    assert "wrote" in text and "reused from now on" in text


def test_the_script_is_a_thin_wrapper():
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "scripts" / "fetch_kay2008.py"
    res = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, check=True)
    assert "Usage:" in res.stdout and "Kay et al. (2008)" in res.stdout and "--rois" in res.stdout
