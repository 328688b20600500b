import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from ridge_decode.cli import main
from ridge_decode.pipeline.check import check_data
from ridge_decode.sources.fetch_nsd import fetch, plan
from ridge_decode.sources.manifest import entry_path


def test_synthetic_root_passes(synthetic_root):
    res = CliRunner().invoke(main, ["check-data", "--data-root", str(synthetic_root), "--subject", "1,2"])
    assert res.exit_code == 0, res.output
    assert "15724 voxels" in res.output  # NSD's size is printed beside what was found
    assert "sd15" in res.output  # weights are listed, but count only with --weights
    nsd_rows = [r for r in check_data(synthetic_root, (1, 2)) if r.kind == "nsd"]
    assert len(nsd_rows) >= 11 and all(r.status == "present" for r in nsd_rows)


def test_strict_holds_to_nsd_sizes(synthetic_root):
    results = check_data(synthetic_root, (1,), strict=True)
    bad = {r.key for r in results if r.status == "bad"}
    assert {"nsdgeneral", "betas_hdf5", "stimuli"} <= bad


def test_empty_root_fails_with_hints(tmp_path):
    res = CliRunner().invoke(main, ["check-data", "--data-root", str(tmp_path)])
    assert res.exit_code == 1
    assert "MISSING" in res.output and "fetch_nsd.py" in res.output


def test_weights_count_only_when_asked(synthetic_root):
    args = ["check-data", "--data-root", str(synthetic_root), "--weights-root", str(synthetic_root / "w")]
    assert CliRunner().invoke(main, args).exit_code == 0
    res = CliRunner().invoke(main, args + ["--weights"])
    assert res.exit_code == 1 and "ipadapter_plus" in res.output


def test_bad_files_are_reported(synthetic_copy):
    p = entry_path("betas_hdf5", synthetic_copy, 1, 2)
    p.write_bytes(p.read_bytes()[:1000])
    entry_path("captions_val", synthetic_copy).write_text("{not json")
    results = {(r.key, r.subject): r for r in check_data(synthetic_copy, (1,))}
    assert results[("betas_hdf5", 1)].status == "bad" and "betas_session02.hdf5" in results[("betas_hdf5", 1)].detail
    assert results[("captions_val", None)].status == "bad"


def test_fetch_plan_lists_exactly_the_subject_files():
    items = plan(1)
    assert sum(it.key == "betas_hdf5" for it in items) == 40
    assert all("subj01" in it.relpath for it in items if it.key in ("betas_hdf5", "nsdgeneral", "ncsnr"))
    assert len(plan(4, betas_format="nifti")) == 7 + 30
    with pytest.raises(ValueError, match="sessions 1..40"):
        plan(1, sessions=41)


def test_dry_run_prints_sizes_and_total():
    res = CliRunner().invoke(main, ["fetch-nsd", "--subject", "1", "--sessions", "2", "--dry-run"])
    assert res.exit_code == 0 and "total (9 files" in res.output and "nsd_stimuli.hdf5" in res.output


def test_fetch_from_file_url_and_resume(synthetic_root, tmp_path):
    items = plan(1, sessions=2)
    dest = tmp_path / "dest"
    big = entry_path("betas_hdf5", synthetic_root, 1, 1)
    part = entry_path("betas_hdf5", dest, 1, 1).with_name(big.name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(big.read_bytes()[: big.stat().st_size // 2])  # an interrupted download
    paths = fetch(items, dest, f"file://{synthetic_root}", progress=False)
    assert len(paths) == len(items) and not part.exists()
    for it in items:
        assert (dest / it.relpath).read_bytes() == (synthetic_root / it.relpath).read_bytes()
    # the fetched root is usable as it is
    shutil.copy(synthetic_root / "synthetic.json", dest)
    from ridge_decode.sources.nsd import load_subject

    data = load_subject(1, dest, use_cache=False, progress=False)
    assert np.isfinite(data.train_betas).all()
