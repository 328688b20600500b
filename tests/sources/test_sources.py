"""One data source for every stage: NIfTI betas with a mask give what the same numbers in an own-data HDF5 file give;
``predict`` applies a fitted model to betas from any source; every bad NIfTI input is one clear line; no stage asks
which kind of source it has."""

import ast
import json
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
from builders import digest, write_own_from_nsd
from click.testing import CliRunner
from own_data import (
    AFFINE,
    GRID,
    N_TEST,
    N_TRAIN,
    N_VOXELS,
    TEST_REPEATS,
    TRAIN_REPEATS,
    _dataset,
    _mask,
    write_hdf5,
    write_nifti,
)

from ridge_decode.cli import main

REPO = Path(__file__).resolve().parents[2]


def flags(options: dict) -> list[str]:
    return [w for k, v in options.items() for w in (f"--{k}", v)]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same data as NIfTI and as HDF5, each fitted once (voxels -> pixels)."""
    root = tmp_path_factory.mktemp("sources")
    d = _dataset()
    nifti = write_nifti(root / "lab", d)
    (root / "own").mkdir()
    h5 = write_hdf5(root / "own" / "mine.h5", d)
    runner = CliRunner()
    for args in (flags(nifti), ["--input", str(h5)]):
        res = runner.invoke(main, ["fit", *args, "--out", str(root / "out"), "--alphas", "-2:4:7"])
        assert res.exit_code == 0, res.output
    return root, d, nifti, h5


def test_nifti_source_gives_the_hdf5_sources_fit(pair):
    from ridge_decode.ridge import OneStageRidge
    from ridge_decode.sources import HDF5Source, open_source

    root, d, nifti, h5 = pair
    a, b = open_source(nifti).load(), HDF5Source(h5).load()
    for key in ("train_betas", "train_ids", "test_betas", "test_ids", "train_repeats", "test_repeats"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    np.testing.assert_array_equal(a.voxel_xyz, np.argwhere(_mask()))  # NiftiMasker's order is np.argwhere's
    # an independent computation: each test image's row is the mean of its three trials
    test_id = int(a.test_ids[0])
    np.testing.assert_allclose(a.test_betas[0], d["betas"][d["ids"] == test_id].mean(0), rtol=1e-6, atol=1e-6)
    assert (a.test_repeats == TEST_REPEATS).all()
    fits = {label: root / "out" / label for label in ("trials", "mine")}  # labels: the table's and the file's stem
    models = {k: OneStageRidge.load(v / "model.h5") for k, v in fits.items()}
    np.testing.assert_array_equal(models["trials"].alphas_["pixels"], models["mine"].alphas_["pixels"])
    with h5py.File(fits["trials"] / "predictions.h5") as f, h5py.File(fits["mine"] / "predictions.h5") as g:
        p, q = f["pred/pixels"][()], g["pred/pixels"][()]
        np.testing.assert_array_equal(f["ids"][()], g["ids"][()])
    np.testing.assert_allclose(p, q, rtol=0, atol=8 * np.finfo(np.float32).eps * np.abs(q).max())
    summary = json.loads((fits["trials"] / "summary.json").read_text())
    assert summary["label"] == "trials" and summary["source"]["kind"] == "nifti"
    assert summary["source"]["voxels"] == f"the mask {nifti['mask']}"


def test_sessions_are_z_scored_within_each_session(tmp_path):
    from ridge_decode.sources import open_source

    d = _dataset(seed=3)
    sessions = np.repeat(["a", "b"], len(d["ids"]) // 2)
    opts = write_nifti(tmp_path, d, sessions=sessions, files=1)
    data = open_source(opts).load()
    z = d["betas"].astype(np.float64)
    for s in ("a", "b"):  # brute force: mean and standard deviation (ddof 0) of each voxel within the session
        rows = sessions == s
        z[rows] = (z[rows] - z[rows].mean(0)) / z[rows].std(0)
    train = d["split"] == "train"
    for k, i in enumerate(data.train_ids[:5]):
        np.testing.assert_allclose(data.train_betas[k], z[train & (d["ids"] == i)].mean(0), rtol=1e-5, atol=1e-5)


def test_nifti_chain_end_to_end_weight_free(pair, tmp_path):
    """extract, fit, predict, decode and evaluate, each with the NIfTI options."""
    root, d, nifti, _ = pair
    src, runner = flags(nifti), CliRunner()
    res = runner.invoke(main, ["extract-features", *src, "--families", "pixels"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["predict", *src, "--model-dir", str(root / "out" / "trials"), "--out",
                               str(tmp_path / "pred")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["decode", *src, "--model-dir", str(tmp_path / "pred"), "--decoder", "weight-free",
                               "--out", str(tmp_path / "recon")])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "recon").glob("07*.png"))) == N_TEST
    res = runner.invoke(main, ["evaluate", *src, "--recon-dir", str(tmp_path / "recon"), "--out",
                               str(tmp_path / "eval"), "--weights-root", str(tmp_path / "no_weights")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n_images"] == N_TEST and metrics["metrics"]["pixcorr"] > 0.5
    assert metrics["label"] == "trials" and "trials" in (tmp_path / "eval" / "report.md").read_text()
    res = runner.invoke(main, ["check-data", *src])
    assert res.exit_code == 0 and f"{N_TRAIN} train and {N_TEST} test images" in res.output, res.output


def test_predict_on_a_fits_test_betas_is_that_fits_predictions(pair, tmp_path):
    root, _, _, h5 = pair
    fit = root / "out" / "mine"
    res = CliRunner().invoke(main, ["predict", "--input", str(h5), "--model-dir", str(fit), "--out",
                                    str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    with h5py.File(fit / "predictions.h5") as f, h5py.File(tmp_path / "p" / "predictions.h5") as g:
        np.testing.assert_array_equal(f["ids"][()], g["ids"][()])
        np.testing.assert_array_equal(f["pred/pixels"][()], g["pred/pixels"][()])  # bit for bit
        np.testing.assert_array_equal(f["r/pixels"][()], g["r/pixels"][()])
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["fit_source"]["spec"] == {"input": str(h5)} and summary["config"]["split"] == "test"


def test_predict_needs_no_images_and_evaluate_says_it_has_none(pair, tmp_path):
    root, d, nifti, _ = pair
    betas_only = {k: v for k, v in nifti.items() if k != "images"}
    runner = CliRunner()
    res = runner.invoke(main, ["predict", *flags(betas_only), "--model-dir", str(root / "out" / "trials"),
                               "--out", str(tmp_path / "p"), "--features-dir", str(tmp_path / "nothing")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["decode", *flags(betas_only), "--model-dir", str(tmp_path / "p"), "--decoder",
                               "weight-free", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0 and (tmp_path / "r" / "grid.png").exists(), res.output
    res = runner.invoke(main, ["evaluate", *flags(betas_only), "--recon-dir", str(tmp_path / "r"), "--out",
                               str(tmp_path / "e")])
    assert res.exit_code == 1 and "give --images" in res.output and "Traceback" not in res.output, res.output


def test_predict_refuses_betas_of_other_voxels(pair, tmp_path):
    root, d, _, _ = pair
    other = {**d, "betas": d["betas"][:, :150]}
    path = write_hdf5(tmp_path / "other.h5", other)
    res = CliRunner().invoke(main, ["predict", "--input", str(path), "--model-dir", str(root / "out" / "trials"),
                                    "--out", str(tmp_path / "p")])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "150 voxels" in res.output and "200 voxels" in res.output, res.output
    assert "mask.nii.gz" in res.output  # the mask the model was fitted with
    assert not (tmp_path / "p").exists()


def test_min_nc_for_own_data(pair, tmp_path):
    """--min-nc reads an own-data ncsnr (a dataset of the HDF5 file, --ncsnr for NIfTI): the voxels kept are those of a
    brute-force noise ceiling above the threshold."""
    from ridge_decode.sources.base import noise_ceiling

    root, d, nifti, h5 = pair
    ncsnr = np.random.default_rng(5).random(N_VOXELS) * 0.8
    vol = np.zeros(GRID, np.float32)
    vol[_mask()] = ncsnr
    nib.save(nib.Nifti1Image(vol, AFFINE), tmp_path / "ncsnr.nii.gz")
    own = tmp_path / "nc.h5"
    write_hdf5(own, d)
    with h5py.File(own, "a") as f:
        f["ncsnr"] = vol[_mask()]
    n = np.mean(np.r_[np.full(N_TRAIN, TRAIN_REPEATS)])
    expected = int((noise_ceiling(vol[_mask()], n) >= 20).sum())
    assert 0 < expected < N_VOXELS
    runner = CliRunner()
    for args, label in ((flags(nifti) + ["--ncsnr", str(tmp_path / "ncsnr.nii.gz"), "--label", "lab"], "lab"),
                        (["--input", str(own), "--features-dir", str(Path(h5).parent / "mine_features")], "nc")):
        res = runner.invoke(main, ["fit", *args, "--min-nc", "20", "--out", str(tmp_path / "out")])
        assert res.exit_code == 0, res.output
        summary = json.loads((tmp_path / "out" / label / "summary.json").read_text())
        assert summary["n_voxels"] == expected and summary["noise_ceiling"]["voxels_total"] == N_VOXELS
    res = runner.invoke(main, ["fit", "--input", str(h5), "--min-nc", "20", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "has no dataset 'ncsnr'" in res.output, res.output


def _bad_cases(tmp_path, nifti, d):
    """Each bad NIfTI input: (options, words the one-line message must hold)."""
    cases = {}
    lab = Path(nifti["trials"]).parent
    short = tmp_path / "short.tsv"
    short.write_text("\n".join(Path(nifti["trials"]).read_text().splitlines()[:-1]) + "\n")
    cases["fewer rows than volumes"] = ({**nifti, "trials": str(short)}, [str(short), "rows for", "volumes"])
    small = np.zeros((10, 12, 12), np.uint8)
    small[2:5, 2:5, 2:5] = 1
    nib.save(nib.Nifti1Image(small, AFFINE), tmp_path / "small_mask.nii.gz")
    cases["mask of another shape"] = ({**nifti, "mask": str(tmp_path / "small_mask.nii.gz")},
                                      ["grid (12, 12, 12)", "(10, 12, 12)"])
    moved = AFFINE.copy()
    moved[0, 3] = 4.0
    nib.save(nib.Nifti1Image(_mask().astype(np.uint8), moved), tmp_path / "moved_mask.nii.gz")
    cases["mask of another affine"] = ({**nifti, "mask": str(tmp_path / "moved_mask.nii.gz")},
                                       ["affine differs", "moved_mask.nii.gz", "resample"])
    nib.save(nib.Nifti1Image(np.zeros(GRID, np.uint8), AFFINE), tmp_path / "empty.nii.gz")
    cases["empty mask"] = ({**nifti, "mask": str(tmp_path / "empty.nii.gz")}, ["empty.nii.gz", "empty"])
    missing = tmp_path / "missing.tsv"
    rows = Path(nifti["trials"]).read_text().splitlines()
    rows[3] = rows[3].replace(".png", "_gone.png", 1)
    missing.write_text("\n".join(rows) + "\n")
    cases["image not in the folder"] = ({**nifti, "trials": str(missing)},
                                        [str(missing), "column 'image'", "_gone.png", "is not in --images"])
    bad_split = tmp_path / "split.tsv"
    rows = Path(nifti["trials"]).read_text().splitlines()
    rows[2] = rows[2].replace("\ttrain\t", "\tval\t").replace("\ttest\t", "\tval\t")
    bad_split.write_text("\n".join(rows) + "\n")
    cases["unknown split"] = ({**nifti, "trials": str(bad_split)}, [str(bad_split), "row 2", "column 'split'", "'val'"])
    no_col = tmp_path / "nocol.tsv"
    no_col.write_text("\n".join(r.split("\t")[0] + "\t" + r.split("\t")[2] for r in rows) + "\n")
    cases["no split column"] = ({**nifti, "trials": str(no_col)}, [str(no_col), "missing ['split']"])
    cases["no betas file"] = ({**nifti, "betas": str(lab / "nothing_*.nii.gz")}, ["--betas", "nothing_*"])
    return cases


def test_every_bad_nifti_input_is_one_clear_line(pair, tmp_path):
    root, d, nifti, _ = pair
    before = digest(root / "out")
    for case, (options, words) in _bad_cases(tmp_path, nifti, d).items():
        res = CliRunner().invoke(main, ["fit", *flags(options), "--out", str(root / "out"), "--label", "trials"])
        assert res.exit_code == 1, (case, res.output)
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, (case, res.output)
        for w in words:
            assert w in res.output, (case, w, res.output)
    assert digest(root / "out") == before  # the existing fit of that label is untouched


def test_two_kinds_of_source_at_once_is_a_usage_error(pair):
    _, _, nifti, h5 = pair
    res = CliRunner().invoke(main, ["fit", *flags(nifti), "--input", str(h5)])
    assert res.exit_code == 2 and "--input and --betas are two sources" in res.output, res.output
    res = CliRunner().invoke(main, ["fit", "--input", str(h5), "--mask", nifti["mask"]])
    assert res.exit_code == 2 and "--mask (with --betas)" in res.output, res.output


def test_transfer_takes_an_own_data_subject(synthetic_root, tmp_path):
    """The new subject as an own-data file of subject 2's numbers gives what NSD subject 2 gives."""
    path = tmp_path / "s2.h5"
    write_own_from_nsd(path, synthetic_root, subject=2)
    rest = ["--features-dir", str(tmp_path / "f"), "--alphas", "0:6:7", "--train-fraction", "0.5", "--out",
            str(tmp_path / "o")]
    runner = CliRunner()
    assert runner.invoke(main, ["extract-features", "--data-root", str(synthetic_root), "--features-dir",
                                str(tmp_path / "f")]).exit_code == 0
    res = runner.invoke(main, ["transfer", "--data-root", str(synthetic_root), *rest])
    assert res.exit_code == 0, res.output
    nsd = json.loads((tmp_path / "o" / "transfer_subj02_from_subj01.json").read_text())["results"]
    # the reference is the fit's recorded source (NSD subject 1); the new subject is the file, with its own cache:
    # the root's cache records the root's images, and the file is another source of images
    res = runner.invoke(main, ["transfer", "--input", str(path), "--reference-dir", str(tmp_path / "o" / "subj01"),
                               *rest])
    assert res.exit_code == 1 and "give this source its own --features-dir" in res.output, res.output
    own_cache = ["--features-dir", str(tmp_path / "f_own")]
    assert runner.invoke(main, ["extract-features", "--input", str(path), *own_cache]).exit_code == 0
    res = runner.invoke(main, ["transfer", "--input", str(path), "--reference-dir", str(tmp_path / "o" / "subj01"),
                               *rest, *own_cache])
    assert res.exit_code == 0, res.output
    own = json.loads((tmp_path / "o" / "transfer_s2_from_subj01.json").read_text())["results"]
    assert [(r["method"], r["n_train"]) for r in own] == [(r["method"], r["n_train"]) for r in nsd]
    np.testing.assert_allclose([r["mean_r"] for r in own], [r["mean_r"] for r in nsd], rtol=0, atol=1e-6)


STAGES = ("extract", "fit", "predict", "decode", "evaluate", "transfer", "demo", "common")


def test_no_stage_branches_on_the_kind_of_source():
    """Only the commands parse the source options and only sources.open_source reads them: a stage module that names
    input_file or data_root (or imports a source kind's module) fails this test."""
    for name in STAGES:
        path = REPO / "ridge_decode" / "pipeline" / f"{name}.py"
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = {getattr(node, "id", None), getattr(node, "attr", None), getattr(node, "arg", None)}
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
            assert not names & {"input_file", "data_root"}, f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("sources.nsd", "sources.hdf5", "sources.nifti", "generic", "nsd")), \
                    f"{path.name} imports {node.module}"


def test_pipeline_modules_and_stage_functions_are_small():
    for path in (REPO / "ridge_decode" / "pipeline").glob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 400, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                assert node.end_lineno - node.lineno + 1 <= 60, f"{path.name}: {node.name}"
