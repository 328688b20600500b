"""Shared fixtures: a tiny synthetic NSD root (HDF5 and NIfTI betas), and no access to the user's data.

The read-only session fixtures are built once per test run, not once per xdist worker: the first worker to need
one builds it in the run's shared temporary folder under a file lock, the others wait and reuse it (the
pytest-xdist recipe for session fixtures). On 2 cores that saves each worker the others' building.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from filelock import FileLock

from ridge_decode.simulation import simulate
from ridge_decode.sources.manifest import DATA_ENV, WEIGHTS_ENV


@pytest.fixture(autouse=True)
def _isolated_data_env(tmp_path, monkeypatch):
    """Tests never read the user's data folders: the env vars point into the test's temporary folder."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "no_data_here"))
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "no_weights_here"))


def _built_once(tmp_path_factory, worker_id: str, name: str, build) -> Path:
    """``build(folder)`` once for the whole run, into ``<shared tmp>/<name>``; returns the folder."""
    if worker_id == "master":  # no xdist: this process is the run
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent
    folder, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            if folder.exists():  # a build that failed half way in another worker
                shutil.rmtree(folder)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory, worker_id):
    """Two tiny synthetic subjects (2 sessions, ~400 voxels), betas as HDF5 and NIfTI. Treat as read-only.

    The "easy" preset: the tests that assert decoding quality (r, PixCorr, identification, transfer) on 450
    training images and 400 voxels need its strong signal for a clear margin; the NSD-like default is tested in
    tests/simulation/test_simulate.py and measured by benchmarks/bench_difficulty.py.
    """
    return _built_once(tmp_path_factory, worker_id, "synthetic", lambda root: simulate(
        root, size="tiny", subjects=(1, 2), seed=0, betas_formats=("hdf5", "nifti"), progress=False, preset="easy"))


@pytest.fixture(scope="session")
def nsd_like_root(tmp_path_factory, worker_id):
    """One tiny subject of the NSD-like default preset (dead leaves, power-law latent), 64 px stimuli (a quarter
    of the rendering time of 128 px). Treat as read-only."""
    return _built_once(tmp_path_factory, worker_id, "nsd_like", lambda root: simulate(
        root, size="tiny", subjects=(1,), seed=0, image_size=64, progress=False))


@pytest.fixture
def synthetic_copy(synthetic_root, tmp_path):
    """A private, writable copy of the synthetic root, for tests that damage files."""
    dest = tmp_path / "root"
    shutil.copytree(synthetic_root, dest, ignore=shutil.ignore_patterns("ridge_decode_cache", "features"))
    return dest


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory, worker_id):
    """Tiny random models saved in the manifest's weight layout (ridge_decode/weights/tiny.py). Treat as read-only."""
    from ridge_decode.weights.tiny import make_tiny_weights

    return _built_once(tmp_path_factory, worker_id, "weights", make_tiny_weights)


@pytest.fixture(scope="session")
def tiny_all_weights(tmp_path_factory, worker_id):
    """tiny_weights' models plus randomly initialised metric networks at the manifest's paths (its own folder)."""
    from ridge_decode.weights.tiny import make_tiny_metric_weights, make_tiny_weights

    return _built_once(tmp_path_factory, worker_id, "all_weights",
                       lambda root: make_tiny_metric_weights(make_tiny_weights(root)))
