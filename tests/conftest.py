"""Shared fixtures: a tiny synthetic NSD root (HDF5 and NIfTI betas), and no access to the user's data."""

from __future__ import annotations

import shutil

import pytest

from ridge_decode.manifest import DATA_ENV, WEIGHTS_ENV
from ridge_decode.simulate import simulate


@pytest.fixture(autouse=True)
def _isolated_data_env(tmp_path, monkeypatch):
    """Tests never read the user's data folders: the env vars point into the test's temporary folder."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "no_data_here"))
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "no_weights_here"))


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """Two tiny synthetic subjects (2 sessions, ~400 voxels), betas as HDF5 and NIfTI. Treat as read-only.

    The "easy" preset: the tests that assert decoding quality (r, PixCorr, identification, transfer) on 450
    training images and 400 voxels need its strong signal for a clear margin; the NSD-like default is tested in
    tests/test_simulate.py and measured by benchmarks/bench_difficulty.py.
    """
    root = tmp_path_factory.mktemp("synthetic")
    simulate(root, size="tiny", subjects=(1, 2), seed=0, betas_formats=("hdf5", "nifti"), progress=False,
             preset="easy")
    return root


@pytest.fixture(scope="session")
def nsd_like_root(tmp_path_factory):
    """One tiny subject of the NSD-like default preset (dead leaves, power-law latent), 64 px stimuli (a quarter
    of the rendering time of 128 px). Treat as read-only."""
    root = tmp_path_factory.mktemp("nsd_like")
    simulate(root, size="tiny", subjects=(1,), seed=0, image_size=64, progress=False)
    return root


@pytest.fixture
def synthetic_copy(synthetic_root, tmp_path):
    """A private, writable copy of the synthetic root, for tests that damage files."""
    dest = tmp_path / "root"
    shutil.copytree(synthetic_root, dest, ignore=shutil.ignore_patterns("ridge_decode_cache", "features"))
    return dest


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """Tiny random models saved in the manifest's weight layout (see ridge_decode/tiny.py). Treat as read-only."""
    from ridge_decode.tiny import make_tiny_weights

    return make_tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def tiny_all_weights(tiny_weights):
    """tiny_weights plus randomly initialised metric networks at the manifest's paths."""
    from ridge_decode.tiny import make_tiny_metric_weights

    return make_tiny_metric_weights(tiny_weights)
