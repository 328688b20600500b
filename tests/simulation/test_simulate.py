import h5py
import nibabel as nib
import numpy as np
import pytest
import scipy.io

from ridge_decode.simulation import (
    load_source_photographs,
    make_design,
    noise_ceiling,
    render_stimulus,
    simulate,
    trial_ids,
)
from ridge_decode.sources.manifest import entry_path


def test_layout_and_formats(synthetic_root):
    root = synthetic_root
    with h5py.File(entry_path("betas_hdf5", root, 1, 1), "r") as f:
        betas = f["betas"]
        assert betas.dtype == np.int16
        mask = np.asanyarray(nib.load(str(entry_path("nsdgeneral", root, 1))).dataobj)
        assert betas.shape == (750,) + mask.shape[::-1]
    assert set(np.unique(mask)) == {-1, 0, 1}
    nii = nib.load(str(entry_path("betas_nifti", root, 1, 2)))
    assert nii.shape == mask.shape + (750,) and nii.get_data_dtype() == np.int16
    mat = scipy.io.loadmat(entry_path("expdesign", root))
    assert mat["masterordering"].shape == (1, 30000)
    assert mat["subjectim"].shape == (8, 10000)
    assert mat["sharedix"].shape == (1, 1000)


def test_design_is_nsd_shaped():
    d = make_design(0)
    sub = d["subjectim"].astype(int)
    assert np.array_equal(sub[:, :1000], np.tile(d["sharedix"].astype(int), (8, 1)))
    assert len(np.unique(sub)) == 73000  # 1000 shared + 8 x 9000 own images use every 73k id once
    counts = np.bincount(d["masterordering"].ravel().astype(int))[1:]
    assert counts.min() == counts.max() == 3
    # a block of two sessions holds every repeat of its images
    first_block = d["masterordering"].ravel()[:1500].astype(int)
    assert np.all(np.bincount(first_block)[np.unique(first_block)] == 3)


def test_only_viewed_stimuli_are_written(synthetic_root):
    design = make_design(0)
    viewed = np.unique(np.concatenate([trial_ids(design, s, 1500) for s in (1, 2)]))
    with h5py.File(entry_path("stimuli", synthetic_root), "r") as f:
        brick = f["imgBrick"]
        assert brick.shape == (73000, 128, 128, 3)
        assert brick.chunks == (1, 128, 128, 3)
        assert brick.id.get_num_chunks() == len(viewed)
        imgs = brick[viewed[:50]]
        assert imgs.reshape(50, -1).std(axis=1).min() > 0
        unseen = np.setdiff1d(np.arange(73000), viewed)[:3]
        assert not brick[unseen].any()


def test_stimuli_are_deterministic_and_distinct():
    photos = load_source_photographs()
    assert len(photos) >= 15
    a, _ = render_stimulus(photos, 123, seed=0, size=64)
    b, _ = render_stimulus(photos, 123, seed=0, size=64)
    c, _ = render_stimulus(photos, 123, seed=1, size=64)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    many = np.stack([render_stimulus(photos, i, 0, 32)[0] for i in range(300)]).reshape(300, -1)
    assert len(np.unique(many, axis=0)) == 300


def test_ground_truth_and_noise_ceiling(synthetic_root):
    with h5py.File(synthetic_root / "nsddata/ppdata/subj01/synthetic_ground_truth.h5", "r") as f:
        ncsnr = f["encoding/ncsnr"][()]
        assert f["trial_ids"].shape == (1500,)
        assert f["signal"].shape == (len(f["signal_ids"]), len(ncsnr))
    nc = noise_ceiling(ncsnr, 3)
    assert np.all((nc > 0) & (nc < 100))
    assert noise_ceiling(1.0, 1) == pytest.approx(50.0)
    # the planted SNR is written as NSD's ncsnr volume, and read back in the loaders' voxel order
    from ridge_decode.sources.nsd import load_subject, read_noise_ceiling

    with h5py.File(synthetic_root / "nsddata/ppdata/subj01/synthetic_ground_truth.h5", "r") as f:
        xyz = f["encoding/voxel_xyz"][()]
    data = load_subject(1, synthetic_root, progress=False)
    order = {tuple(v): k for k, v in enumerate(xyz.tolist())}
    planted = ncsnr[[order[tuple(v)] for v in data.voxel_xyz.tolist()]]
    np.testing.assert_allclose(read_noise_ceiling(1, synthetic_root, n_repeats=2.0), noise_ceiling(planted, 2.0),
                               rtol=1e-5)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="size"):
        simulate(tmp_path, size="huge")
    with pytest.raises(ValueError, match="unknown subject 9"):
        simulate(tmp_path, size="tiny", subjects=(9,))
    with pytest.raises(ValueError, match="betas_formats"):
        simulate(tmp_path, size="tiny", betas_formats=("mgz",))


def test_same_seed_gives_the_same_bytes(nsd_like_root, tmp_path):
    """A second simulation with the session fixture's arguments writes the same bytes, file by file."""
    import hashlib

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    again = tmp_path / "again"
    simulate(again, size="tiny", subjects=(1,), seed=0, image_size=64, progress=False)
    files = [p.relative_to(again) for p in sorted(again.rglob("*")) if p.is_file()]
    assert len(files) > 5
    assert [f for f in files if digest(again / f) != digest(nsd_like_root / f)] == []  # no timestamp in the MAT


def _radial_slope(images: np.ndarray) -> float:
    """Log-log slope of the radially averaged power spectrum of grayscale images (frequencies 2 .. N/2)."""
    g = images.astype(float).mean(-1)
    g -= g.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fftshift(np.fft.fft2(g), axes=(1, 2))) ** 2).mean(0)
    n = power.shape[0]
    y, x = np.indices(power.shape)
    r = np.hypot(y - n // 2, x - n // 2).astype(int)
    radial = np.bincount(r.ravel(), power.ravel()) / np.bincount(r.ravel())
    f = np.arange(len(radial))
    keep = (f >= 2) & (f < n // 2)
    return float(np.polyfit(np.log(f[keep]), np.log(radial[keep]), 1)[0])


def test_nsd_like_stimuli_are_distinct_with_a_natural_spectrum(nsd_like_root):
    from ridge_decode.sources.nsd import open_stimuli, viewed_ids

    ids = viewed_ids(nsd_like_root)
    images = open_stimuli(nsd_like_root).read(ids)
    flat = images.reshape(len(images), -1)
    assert len(np.unique(flat, axis=0)) == len(images)  # every 73k id its own image
    assert -2.5 <= _radial_slope(images) <= -1.5  # near 1/f^2, as natural images (dead leaves)
    small = images[:, ::4, ::4].reshape(len(images), -1).astype(float)
    c = np.corrcoef(small)
    np.fill_diagonal(c, -1)
    assert np.median(c.max(axis=1)) < 0.5  # no near-copies: the closest other image is far


def test_nsd_like_latent_has_the_planted_power_law(nsd_like_root):
    with h5py.File(nsd_like_root / "nsddata/ppdata/subj01/synthetic_ground_truth.h5", "r") as f:
        z, exponent = f["latent"][()], float(f["latent_model/exponent"][()])
    assert z.shape[1] >= 200  # hundreds of dimensions
    var = np.linalg.svd(z - z.mean(0), compute_uv=False) ** 2
    k = np.arange(1, len(var) + 1)
    keep = k <= min(len(var), len(z)) // 2  # the well-estimated part of the spectrum
    fitted = -np.polyfit(np.log(k[keep]), np.log(var[keep]), 1)[0]
    assert abs(fitted - exponent) < 0.2


def test_nsd_like_noise_ceilings_fall_along_the_hierarchy(nsd_like_root):
    with h5py.File(nsd_like_root / "nsddata/ppdata/subj01/synthetic_ground_truth.h5", "r") as f:
        t, ncsnr = f["encoding/hierarchy"][()], f["encoding/ncsnr"][()]
    nc = noise_ceiling(ncsnr, 3)
    assert np.median(nc[t < 0.3]) > np.median(nc[t > 0.7]) + 10  # percentage points, early above late
