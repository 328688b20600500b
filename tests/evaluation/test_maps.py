"""Brain maps: on the synthetic subject the answer is planted (each voxel's position along the visual hierarchy),
so the map of "pixels explain this voxel better than the late latent" must rank with it; the maps are NIfTI in the
subject's own grid, with the values at the voxels' coordinates."""

import h5py
import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from ridge_decode.cli import main
from ridge_decode.evaluation import maps
from ridge_decode.pipeline.maps import MapsRequest, compute_maps
from ridge_decode.sources import HDF5Source, NSDSource

# Measured on this fixture (the easy preset, tiny): 0.59. The threshold leaves a margin for other platforms' floats.
MIN_SPEARMAN = 0.4


def _truth(root):
    with h5py.File(root / "nsddata" / "ppdata" / "subj01" / "synthetic_ground_truth.h5") as f:
        return f["encoding/hierarchy"][()], f["latent"][()], f["signal_ids"][()]


def test_the_share_of_pixels_over_the_latent_follows_the_planted_hierarchy(synthetic_root, tmp_path):
    hierarchy, latent, ids = _truth(synthetic_root)
    values = compute_maps(MapsRequest(NSDSource(synthetic_root, 1), ["pixels"], features_dir=tmp_path / "f",
                                      extra={"latent": latent}, extra_ids=ids, echo=lambda s: None))
    rho = spearmanr(values["share_pixels_vs_latent"], -hierarchy).correlation  # early voxels: pixels explain more
    assert rho > MIN_SPEARMAN, rho
    assert spearmanr(values["noise_ceiling"], -hierarchy).correlation < 0.3  # the easy preset: one ncsnr spread


def test_the_maps_command_writes_nifti_in_the_subjects_grid(synthetic_root, tmp_path):
    fit = CliRunner().invoke(main, ["fit", "--data-root", str(synthetic_root), "--subject", "1", "--families",
                                    "pixels", "--out", str(tmp_path / "outputs"), "--features-dir",
                                    str(tmp_path / "f")])
    assert fit.exit_code == 0, fit.output
    res = CliRunner().invoke(main, ["maps", "--data-root", str(synthetic_root), "--subject", "1", "--model-dir",
                                    str(tmp_path / "outputs" / "subj01"), "--features-dir", str(tmp_path / "f"),
                                    "--out", str(tmp_path / "maps")])
    assert res.exit_code == 0, res.output
    source = NSDSource(synthetic_root, 1)
    roi, xyz = source.grid(), source.data(progress=False).voxel_xyz
    for name in ("noise_ceiling", "encoding_pixels", "pattern_pixels"):
        image = nib.load(tmp_path / "maps" / f"{name}.nii.gz")
        assert image.shape == roi.shape and np.allclose(image.affine, roi.affine)
        data = np.asarray(image.dataobj)
        inside = data[xyz[:, 0], xyz[:, 1], xyz[:, 2]]
        assert np.isfinite(inside).all() and np.isnan(data).sum() == data.size - len(xyz)
    assert (tmp_path / "maps" / "maps.png").stat().st_size > 20_000


def test_activation_patterns_and_encoding_r2_against_direct_computations():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 6))
    pred = X[:, :2] @ rng.standard_normal((2, 3))
    Xs = (X - X.mean(0)) / X.std(0)
    cov = np.array([[np.cov(Xs[:, v], pred[:, k])[0, 1] for k in range(3)] for v in range(6)])
    np.testing.assert_allclose(maps.activation_pattern(X, pred), np.sqrt((cov ** 2).mean(1)), rtol=1e-10)
    assert maps.activation_pattern(X, pred)[2:].max() < maps.activation_pattern(X, pred)[:2].min()
    features = rng.standard_normal((300, 10))
    betas = features[:, :1] @ np.ones((1, 3)) + rng.standard_normal((300, 3)) * np.array([0.1, 1.0, 10.0])
    r2 = maps.encoding_r2(features, betas)
    assert r2[0] > 0.9 and 0.3 < r2[1] < 0.7 and r2[2] < 0.05  # signal / (signal + noise): 0.99, 0.5, 0.01
    np.testing.assert_allclose(maps.family_share(np.array([0.2, 0.0]), np.array([0.2, 0.1])), [0.5, 1e-5],
                               rtol=1e-3)


def test_maps_need_a_voxel_grid(tmp_path):
    from builders import write_coarse

    from ridge_decode.errors import InputError
    from ridge_decode.pipeline.maps import make_maps

    with pytest.raises(InputError, match="has no voxel grid"):
        make_maps(MapsRequest(HDF5Source(write_coarse(tmp_path / "mine.h5"))))
