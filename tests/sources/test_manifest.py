import pytest

from ridge_decode.sources.manifest import (
    DATA_ENV,
    DataFileError,
    load_manifest,
    require,
    resolve_data_root,
    resolve_weights_root,
)


def test_every_entry_is_complete():
    m = load_manifest()
    assert {"betas_hdf5", "betas_nifti", "nsdgeneral", "expdesign", "stim_info", "stimuli",
            "captions_train", "captions_val"} <= set(m.entries)
    assert {"sd15", "ipadapter_plus", "ipadapter_image_encoder", "clip_vit_l14"} <= set(m.entries)
    for e in m.entries.values():
        assert e.kind in ("nsd", "weights") and e.path and e.size_bytes and e.description
        if e.kind == "weights":
            assert e.source
    assert [m.subjects[s]["sessions"] for s in range(1, 9)] == [40, 40, 32, 30, 40, 32, 40, 30]
    assert m.subjects[1]["n_voxels"] == 15724


def test_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root() == tmp_path / "env"
    monkeypatch.delenv(DATA_ENV)
    assert str(resolve_data_root()) == load_manifest().data_root_default
    monkeypatch.delenv("RIDGE_DECODE_WEIGHTS")
    assert resolve_weights_root(None, tmp_path) == tmp_path / "weights"


def test_templates_and_errors(tmp_path):
    m = load_manifest()
    assert m["betas_hdf5"].relpath(1, 7).endswith("subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session07.hdf5")
    with pytest.raises(ValueError, match="per session"):
        m["betas_hdf5"].relpath(1)
    with pytest.raises(KeyError, match="no entry 'nope'"):
        m["nope"]
    with pytest.raises(DataFileError, match="s3://natural-scenes-dataset/nsddata/experiments/nsd/nsd_expdesign.mat"):
        require("expdesign", tmp_path)
