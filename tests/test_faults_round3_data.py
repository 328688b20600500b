"""Runs never mix, round three (data): NIfTI runs in their true order, one feature cache for every subject of a
root, NaN betas refused before any masker fills them in, one meaning of an image's values, a full disk as one line.
Each case is a correct result or one clear line."""

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from test_sources import _dataset, write_hdf5, write_nifti

from ridge_decode.cli import main
from ridge_decode.sources import HDF5Source, open_source

FIT = ["--alphas", "-2:4:7"]
KEYS = ("train_betas", "train_ids", "test_betas", "test_ids", "train_repeats", "test_repeats")


def _flags(options: dict) -> list[str]:
    return [w for k, v in options.items() for v_ in ([v] if isinstance(v, str) else v) for w in (f"--{k}", v_)]


@pytest.fixture(scope="module")
def twelve(tmp_path_factory):
    """The same trials as 12 NIfTI runs (betas_run1 ... betas_run12) and as one HDF5 file (the truth)."""
    root = tmp_path_factory.mktemp("runs")
    d = _dataset()
    nifti = write_nifti(root / "lab", d, files=12)
    return root, d, nifti, HDF5Source(write_hdf5(root / "mine.h5", d)).load()


def _same(a, b):
    for key in KEYS:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)


# ------------------------------------------------------------------------------------------ runs in order
def test_twelve_runs_of_a_glob_load_in_their_true_order(twelve, tmp_path):
    root, _, nifti, truth = twelve
    _same(open_source(nifti).load(), truth)  # run2 before run10: the volumes meet their rows
    res = CliRunner().invoke(main, ["fit", *_flags(nifti), "--out", str(tmp_path / "out"), *FIT])
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "out" / "trials" / "summary.json").read_text())["groups"]["pixels"]["mean_r"]
    assert r > 0.8, r  # the volumes in lexical order (run1, run10, run11, run12, run2 ...) gave -0.014 here
    # files given one by one are read in the order given
    files = [str(Path(nifti["betas"]).parent / f"betas_run{k}.nii.gz") for k in range(1, 13)]
    _same(open_source({**nifti, "betas": files}).load(), truth)


def _renamed(root: Path, nifti: dict, names: list[str]) -> dict:
    """The 12 runs copied under names without numbers (``names[k]`` for run k + 1)."""
    lab = root / "named"
    shutil.copytree(Path(nifti["trials"]).parent, lab)
    for k, name in enumerate(names):
        (lab / f"betas_run{k + 1}.nii.gz").rename(lab / f"b_{name}.nii.gz")
    return {**nifti, "betas": str(lab / "b_*.nii.gz"), "mask": str(lab / "mask.nii.gz"),
            "trials": str(lab / "trials.tsv"), "images": str(lab / "images")}


NAMES = ["pear", "fig", "kiwi", "apple", "lime", "date", "plum", "yuzu", "nut", "oat", "bean", "corn"]


def test_names_without_numbers_need_the_tables_run_column(twelve, tmp_path):
    _, d, nifti, truth = twelve
    named = _renamed(tmp_path, nifti, NAMES)
    res = CliRunner().invoke(main, ["fit", *_flags(named), "--out", str(tmp_path / "out"), *FIT])
    assert res.exit_code == 1 and "carry no run number" in res.output and "column 'run'" in res.output, res.output
    assert "repeat --betas" in res.output and len(res.output.strip().splitlines()) == 1
    # the order given explicitly
    files = [str(Path(named["trials"]).parent / f"b_{n}.nii.gz") for n in NAMES]
    _same(open_source({**named, "betas": files}).load(), truth)
    # the order from the table: a run column naming each row's file (its name, its stem)
    sizes = [len(p) for p in np.array_split(np.arange(len(d["ids"])), 12)]
    runs = [f"b_{NAMES[k]}.nii.gz" if k % 2 else f"b_{NAMES[k]}" for k in range(12) for _ in range(sizes[k])]
    table = Path(named["trials"])
    rows = table.read_text().splitlines()
    table.write_text("\n".join([rows[0] + "\trun"] + [r + f"\t{v}" for r, v in zip(rows[1:], runs, strict=True)])
                     + "\n")
    _same(open_source(named).load(), truth)
    res = CliRunner().invoke(main, ["fit", *_flags(named), "--out", str(tmp_path / "out"), *FIT])
    assert res.exit_code == 0, res.output


def test_a_run_whose_volumes_disagree_with_the_table_stops(twelve, tmp_path):
    _, d, nifti, _ = twelve
    lab = tmp_path / "lab"
    shutil.copytree(Path(nifti["trials"]).parent, lab)
    sizes = [len(p) for p in np.array_split(np.arange(len(d["ids"])), 12)]
    runs = [k + 1 for k in range(12) for _ in range(sizes[k])]
    runs[sizes[0]] = 1  # the first row of run 2 said to be run 1's
    rows = (lab / "trials.tsv").read_text().splitlines()
    (lab / "trials.tsv").write_text("\n".join([rows[0] + "\trun"] + [r + f"\t{v}" for r, v in
                                                                      zip(rows[1:], runs, strict=True)]) + "\n")
    options = {**nifti, "betas": str(lab / "betas_run*.nii.gz"), "mask": str(lab / "mask.nii.gz"),
               "trials": str(lab / "trials.tsv"), "images": str(lab / "images")}
    res = CliRunner().invoke(main, ["fit", *_flags(options), "--out", str(tmp_path / "out"), *FIT])
    assert res.exit_code == 1 and "column 'run'" in res.output and "betas_run1.nii.gz" in res.output, res.output
    assert f"{sizes[0] + 1} rows name" in res.output and f"has {sizes[0]} volumes" in res.output, res.output
    runs[sizes[0]] = 2
    runs[-1] = 1  # run 1's rows no longer together
    (lab / "trials.tsv").write_text("\n".join([rows[0] + "\trun"] + [r + f"\t{v}" for r, v in
                                                                      zip(rows[1:], runs, strict=True)]) + "\n")
    res = CliRunner().invoke(main, ["fit", *_flags(options), "--out", str(tmp_path / "out"), *FIT])
    assert res.exit_code == 1 and f"row {len(runs)}, column 'run'" in res.output and "together" in res.output, \
        res.output


# ------------------------------------------------------------------------------------------ NaN betas
def test_nan_betas_are_refused_naming_file_volume_and_voxel_by_every_command(twelve, tmp_path):
    _, _, nifti, _ = twelve
    lab = tmp_path / "lab"
    shutil.copytree(Path(nifti["trials"]).parent, lab)
    options = {**nifti, "betas": str(lab / "betas_run*.nii.gz"), "mask": str(lab / "mask.nii.gz"),
               "trials": str(lab / "trials.tsv"), "images": str(lab / "images")}
    assert CliRunner().invoke(main, ["fit", *_flags(options), "--out", str(tmp_path / "out"), *FIT]).exit_code == 0
    mask = nib.load(lab / "mask.nii.gz").get_fdata() > 0
    xyz = np.argwhere(mask)[17]
    run3 = lab / "betas_run3.nii.gz"
    img = nib.load(run3)
    vol = img.get_fdata(dtype=np.float32)
    vol[tuple(xyz) + (2,)] = np.nan
    nib.save(nib.Nifti1Image(vol, img.affine), run3)
    words = [str(run3), "volume 2", "voxel 17", f"x, y, z = {tuple(int(v) for v in xyz)}", "NaN"]
    for command in (["fit", "--out", str(tmp_path / "out2"), *FIT], ["check-data"],
                    ["maps", "--model-dir", str(tmp_path / "out" / "trials"), "--out", str(tmp_path / "maps")]):
        res = CliRunner().invoke(main, [command[0], *_flags(options), *command[1:]])
        assert res.exit_code == 1, (command, res.output)
        assert all(w in res.output for w in words), (command, res.output)
        assert "Traceback" not in res.output and "bug" not in res.output
