import os

import h5py
import numpy as np
import pytest
from builders import write_own_from_nsd

from ridge_decode.sources import HDF5Source, nsd
from ridge_decode.sources.manifest import DataFileError, DataFormatError, entry_path
from ridge_decode.sources.nsd import Stimuli, load_subject, open_stimuli, read_captions


def _direct(root, subject, zscore="session"):
    """The expected arrays, computed from the raw files and the simulator's ground truth alone."""
    with h5py.File(root / f"nsddata/ppdata/subj{subject:02d}/synthetic_ground_truth.h5", "r") as f:
        xyz, ids = f["encoding/voxel_xyz"][()], f["trial_ids"][()]
        n_sessions = int(f.attrs["sessions"])
    sessions = []
    for s in range(1, n_sessions + 1):
        with h5py.File(entry_path("betas_hdf5", root, subject, s), "r") as f:
            raw = f["betas"][()]  # (750, Z, Y, X)
        x = raw[:, xyz[:, 2], xyz[:, 1], xyz[:, 0]].astype(np.float64) / 300.0
        if zscore == "session":
            x = (x - x.mean(0)) / x.std(0)
        sessions.append(x)
    x = np.concatenate(sessions)
    uniq = np.unique(ids)
    return uniq, np.stack([x[ids == i].mean(0) for i in uniq]), np.array([(ids == i).sum() for i in uniq])


@pytest.mark.parametrize("zscore", ["session", "none"])
def test_loader_matches_direct_computation(synthetic_root, tmp_path, zscore):
    data = load_subject(1, synthetic_root, zscore=zscore, cache_dir=tmp_path, progress=False)
    uniq, expected, counts = _direct(synthetic_root, 1, zscore)
    ids = np.concatenate([data.train_ids, data.test_ids])
    betas = np.concatenate([data.train_betas, data.test_betas])
    order = np.argsort(ids)
    assert np.array_equal(ids[order], uniq)
    # float32 z-scores (|x| < 10) averaged in another order than the direct float64 computation: round-off ~1e-6
    np.testing.assert_allclose(betas[order], expected, rtol=1e-4, atol=1e-4)
    assert np.array_equal(np.concatenate([data.train_repeats, data.test_repeats])[order], counts)


def test_split_and_mapping(synthetic_root, tmp_path):
    data = load_subject(1, synthetic_root, cache_dir=tmp_path, progress=False)
    design = nsd.read_design(entry_path("expdesign", synthetic_root))
    shared = design["sharedix"] - 1
    # 2 sessions = one block: 50 shared1000 + 450 own images, each seen 3 times
    assert (len(data.train_ids), len(data.test_ids)) == (450, 50)
    assert np.isin(data.test_ids, shared).all() and not np.isin(data.train_ids, shared).any()
    assert (data.train_repeats == 3).all() and (data.test_repeats == 3).all()
    own = design["subjectim"][0, 1000:] - 1
    assert np.isin(data.train_ids, own).all()
    assert data.voxel_xyz.shape == (data.n_voxels, 3)


def test_hdf5_and_nifti_agree(synthetic_root, tmp_path):
    a = load_subject(2, synthetic_root, betas_format="hdf5", use_cache=False, progress=False)
    b = load_subject(2, synthetic_root, betas_format="nifti", use_cache=False, progress=False)
    np.testing.assert_array_equal(a.train_betas, b.train_betas)
    np.testing.assert_array_equal(a.test_ids, b.test_ids)


def test_zscore_without_shared_trials(synthetic_root, tmp_path):
    a = load_subject(1, synthetic_root, zscore="session-train", use_cache=False, progress=False)
    b = load_subject(1, synthetic_root, zscore="session", use_cache=False, progress=False)
    assert a.train_betas.shape == b.train_betas.shape
    assert not np.allclose(a.train_betas, b.train_betas)


def test_cache_is_used_then_rebuilt_when_stale(synthetic_copy, tmp_path, monkeypatch):
    calls = []
    real = nsd.read_session
    monkeypatch.setattr(nsd, "read_session", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = load_subject(1, synthetic_copy, progress=False)
    assert len(calls) == 2
    second = load_subject(1, synthetic_copy, progress=False)
    assert len(calls) == 2  # served from the cache
    np.testing.assert_array_equal(first.train_betas, second.train_betas)
    load_subject(1, synthetic_copy, sessions=1, progress=False)
    assert len(calls) == 3  # other options: rebuilt
    load_subject(1, synthetic_copy, progress=False)
    assert len(calls) == 5
    betas = entry_path("betas_hdf5", synthetic_copy, 1, 2)
    st = betas.stat()
    os.utime(betas, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    load_subject(1, synthetic_copy, progress=False)
    assert len(calls) == 7  # an input changed: rebuilt


def test_missing_file_names_it_and_how_to_get_it(synthetic_copy):
    mask = entry_path("nsdgeneral", synthetic_copy, 1)
    mask.unlink()
    with pytest.raises(DataFileError) as err:
        load_subject(1, synthetic_copy, progress=False)
    msg = str(err.value)
    assert str(mask) in msg and "fetch_nsd.py --subject 1" in msg and "simulate.py" in msg


def test_missing_session(synthetic_copy, tmp_path):
    """A session missing among those the subject has is an error naming its file (never a smaller subject), for the
    loader, fit and check-data alike; --sessions takes the first N on purpose, and the summary records which."""
    from click.testing import CliRunner

    from ridge_decode.cli import main
    from ridge_decode.errors import InputError

    with pytest.raises(InputError, match="--sessions 3: subject 1 .* has 2 sessions"):
        load_subject(1, synthetic_copy, sessions=3, progress=False)
    session2 = entry_path("betas_hdf5", synthetic_copy, 1, 2)
    session2.rename(session2.with_suffix(".moved"))
    with pytest.raises(DataFileError, match="session 2 of the 2 to read is missing") as err:
        load_subject(1, synthetic_copy, use_cache=False, progress=False)
    assert str(session2) in str(err.value) and "Present: sessions 1 of 2" in str(err.value)
    assert "--sessions K" in str(err.value)
    runner = CliRunner()
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "session 2 of the 2 to read is missing" in res.output, res.output
    res = runner.invoke(main, ["check-data", "--data-root", str(synthetic_copy)])
    assert res.exit_code == 1 and "sessions 2 of 2 are missing" in res.output, res.output
    # the NIfTI copies of session 2 are still there: remove them too, then one session on purpose
    entry_path("betas_nifti", synthetic_copy, 1, 2).unlink()
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--sessions", "1", "--out",
                               str(tmp_path / "o"), "--alphas", "0:6:7"])
    assert res.exit_code == 0, res.output
    import json

    summary = json.loads((tmp_path / "o" / "subj01" / "summary.json").read_text())
    assert summary["config"]["data"]["sessions_used"] == [1] and summary["source"]["spec"]["sessions"] == 1


def test_betas_of_the_wrong_shape(synthetic_copy):
    path = entry_path("betas_hdf5", synthetic_copy, 1, 2)
    with h5py.File(path, "w") as f:
        f["betas"] = np.zeros((750, 3, 4, 5), np.int16)
    with pytest.raises(DataFormatError) as err:
        load_subject(1, synthetic_copy, use_cache=False, progress=False)
    assert path.name in str(err.value) and "(750, 3, 4, 5)" in str(err.value) and "expected" in str(err.value)


def test_truncated_hdf5(synthetic_copy):
    path = entry_path("betas_hdf5", synthetic_copy, 1, 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataFileError, match="betas_session01.hdf5"):
        load_subject(1, synthetic_copy, use_cache=False, progress=False)


def test_mask_on_another_grid(synthetic_copy):
    import nibabel as nib

    path = entry_path("nsdgeneral", synthetic_copy, 1)
    nib.save(nib.Nifti1Image(np.ones((5, 6, 7), np.int16), np.eye(4)), str(path))
    with pytest.raises(DataFormatError, match="wrong shape"):
        load_subject(1, synthetic_copy, use_cache=False, progress=False)


def test_unknown_subject(synthetic_root):
    with pytest.raises(ValueError, match="unknown subject 9"):
        load_subject(9, synthetic_root)


def test_stimuli_read_in_requested_order(synthetic_root):
    stim = open_stimuli(synthetic_root)
    data = load_subject(1, synthetic_root, use_cache=False, progress=False)
    ids = np.array([data.test_ids[3], data.test_ids[0], data.test_ids[3]])
    imgs = stim.read(ids)
    with h5py.File(entry_path("stimuli", synthetic_root), "r") as f:
        for k, i in enumerate(ids):
            np.testing.assert_array_equal(imgs[k], f["imgBrick"][i])
    caps = read_captions(ids[:2], synthetic_root)
    assert len(caps) == 2 and len(caps[0]) == 5 and all(isinstance(c, str) for c in caps[0])


def test_generic_input_round_trip(synthetic_root, tmp_path):
    path = tmp_path / "mine.h5"
    data = write_own_from_nsd(path, synthetic_root, reverse_images=True, use_cache=False)
    stim = open_stimuli(synthetic_root)
    g = HDF5Source(path).load()
    np.testing.assert_array_equal(g.train_betas, data.train_betas)
    np.testing.assert_array_equal(g.test_ids, data.test_ids)
    gs = Stimuli(path, dataset="images", ids_dataset="image_ids")
    np.testing.assert_array_equal(gs.read(data.test_ids[:4]), stim.read(data.test_ids[:4]))
    with h5py.File(path, "a") as f:
        del f["test/ids"]
    with pytest.raises(DataFormatError, match="test/ids"):
        HDF5Source(path).load()


def test_any_nsd_subject_number(tmp_path):
    from ridge_decode.simulation import simulate

    simulate(tmp_path, size="tiny", subjects=(7,), sessions=1, image_size=64, preset="easy", progress=False)
    data = load_subject(7, tmp_path, use_cache=False, progress=False)
    assert data.info["options"]["sessions"] == 1
    design = nsd.read_design(entry_path("expdesign", tmp_path))
    assert np.isin(data.train_ids, design["subjectim"][6, 1000:] - 1).all()
    with pytest.raises(DataFileError, match="subj01"):
        load_subject(1, tmp_path, use_cache=False, progress=False)
