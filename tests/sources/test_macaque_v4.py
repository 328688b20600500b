"""Decoding from real neural data: macaque V4 responses (Cowley et al. 2023) through the own-data path equal a plain
scikit-learn reference within 0.01 held-out r; the fetcher gets the repository's files (from a loopback server that
serves the repository's layout). Uses the project's copy beside the checkout, and skips where it is absent."""

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ridge_decode as rd
from ridge_decode.sources import macaque_v4

REPO = Path(__file__).resolve().parents[2]
COPY = Path(os.environ.get("RIDGE_DECODE_V4_DIR") or REPO.parent / "shared" / "data" / "macaque_v4")
pytestmark = pytest.mark.skipif(not (COPY / "responses_201025.npy").exists(),
                                reason=f"no copy of the macaque V4 data at {COPY}")


GRID = np.logspace(-2, 6, 17)  # candidate alphas of both ridges (as benchmarks/bench_macaque_v4.py)


def _scores(pred, true) -> dict:
    n = len(true)
    flat_p, flat_t = pred.reshape(n, -1).astype(np.float64), true.reshape(n, -1).astype(np.float64)
    return {"mean_r": float(np.nanmean(rd.columnwise_r(flat_p, flat_t))),
            "two_way_pixels": rd.two_way_identification(flat_p, flat_t)}


def test_v4_decoding_equals_the_scikit_learn_reference(tmp_path):
    path = macaque_v4.to_hdf5(COPY, tmp_path / "v4_201025.h5", "201025")
    source = rd.HDF5Source(path)
    data = source.load(progress=False)
    store = rd.extract_features(source, ["pixels"], features_dir=tmp_path / "features", progress=False)
    y_train, y_test = store.read("pixels", data.train_ids), store.read("pixels", data.test_ids)
    assert data.n_voxels == 89 and len(y_train) == 1000 and len(y_test) == 200
    pred = rd.OneStageRidge(alphas=GRID).fit(data.train_betas, y_train).predict(data.test_betas)
    reference = make_pipeline(StandardScaler(), RidgeCV(alphas=GRID, alpha_per_target=True))
    reference.fit(data.train_betas, y_train.reshape(len(y_train), -1))
    theirs = reference.predict(data.test_betas).reshape(y_test.shape)
    ours, theirs = _scores(pred, y_test), _scores(theirs, y_test)
    assert abs(ours["mean_r"] - theirs["mean_r"]) < 0.01
    assert ours["mean_r"] > 0.4 and ours["two_way_pixels"] > 0.7  # far above chance (0 and 0.5)
    seen = source.images().read(data.test_ids[:10])
    decoded = rd.decode_images({"pixels": pred[:10]}, "weight-free", size=seen.shape[1])
    assert decoded.shape == seen.shape


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A loopback HTTP server laid out as the repository's data_V4_responses/ folder, holding the copy's files."""
    root = tmp_path / "mirror"
    (root / "responses_repeat_averaged").mkdir(parents=True)
    (root / "images").mkdir()
    shutil.copy(COPY / "responses_201025.npy", root / "responses_repeat_averaged")
    shutil.copy(COPY / "images_201025.zip", root / "images")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("RIDGE_DECODE_V4_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield root
    server.shutdown()


def test_the_fetcher_gets_a_session_and_writes_its_own_data_file(tmp_path, mirror):
    import h5py

    from ridge_decode.cli import main

    dest, out = tmp_path / "v4", tmp_path / "v4_201025.h5"
    res = CliRunner().invoke(main, ["fetch-macaque-v4", "--dest", str(dest), "--session", "201025", "--hdf5",
                                    str(out)])
    assert res.exit_code == 0, res.output
    assert (dest / "responses_201025.npy").read_bytes() == (COPY / "responses_201025.npy").read_bytes()
    with h5py.File(out) as f:
        assert f["train/betas"].shape == (1000, 89) and f["test/betas"].shape == (200, 89)
        assert f["images"].shape == (1200, 112, 112, 3)
        np.testing.assert_array_equal(f["test/betas"][0], np.load(COPY / "responses_201025.npy")[:, 1000])
    assert CliRunner().invoke(main, ["check-data", "--input", str(out)]).exit_code == 0  # a valid own-data file
    (mirror / "images" / "images_201025.zip").unlink()
    res = CliRunner().invoke(main, ["fetch-macaque-v4", "--dest", str(tmp_path / "other")])
    assert res.exit_code == 1 and "HTTP 404" in res.output and "images_201025.zip" in res.output
    assert not list((tmp_path / "other").glob("images_*"))  # nothing half-written
