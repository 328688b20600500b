"""Runs never mix, round three: an output folder is ours or untouched (a run's marker, not its name), --aggregate
never writes into its inputs, the seen images are never taken for reconstructions, maps checks the fit's voxels
and names its run, a second simulate adds subjects only with the root's settings, and exact messages for the
user's own mistakes. Each case is one clear line, with nothing outside the run's own folder touched."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from builders import FIT
from builders import digest as _digest
from builders import write_coarse as _write
from click.testing import CliRunner
from own_data import N_TEST, _dataset, _mask, write_nifti

from ridge_decode.cli import main

MARKER = ".ridge_decode_run.json"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _refused(res, *words):
    """One line, exit 2 (a usage error), naming ``words``; no traceback, no "bug"."""
    assert res.exit_code == 2, res.output
    assert all(w in res.output for w in words), res.output
    assert "Traceback" not in res.output and "bug" not in res.output, res.output


# ------------------------------------------------------------------------- an output folder is ours or untouched
def test_a_fit_or_prediction_into_a_lab_folder_is_refused_and_touches_nothing(tmp_path):
    """``fit --input sub01/sub01.h5 --out .`` named the lab's data folder as the fit's: it was replaced, exit 0."""
    lab = tmp_path / "sub01"
    _write(lab / "sub01.h5")
    (lab / "notes.txt").write_text("the lab's notes")
    before = _digest(tmp_path)
    res = run("fit", "--input", lab / "sub01.h5", "--out", tmp_path, *FIT)
    _refused(res, str(lab), "sub01.h5", "notes.txt", "did not write", "not a fit", "left untouched")
    assert _digest(tmp_path) == before  # nothing written or deleted, no lock left behind

    # its own folder is rewritten; a prediction folder is not a fit's, nor a fit's a prediction's
    assert run("fit", "--input", lab / "sub01.h5", "--out", tmp_path / "out", *FIT).exit_code == 0
    fit = tmp_path / "out" / "sub01"
    assert json.loads((fit / MARKER).read_text())["kind"] == "fit"
    assert run("fit", "--input", lab / "sub01.h5", "--out", tmp_path / "out", *FIT).exit_code == 0
    res = run("predict", "--input", lab / "sub01.h5", "--model-dir", fit, "--out", lab)
    _refused(res, "sub01.h5", "not a prediction")
    res = run("predict", "--input", lab / "sub01.h5", "--model-dir", fit, "--out", fit)
    _refused(res, "a fit written by ridge_decode, not a prediction")
    assert run("predict", "--input", lab / "sub01.h5", "--model-dir", fit, "--out", tmp_path / "p").exit_code == 0
    res = run("fit", "--input", lab / "sub01.h5", "--out", tmp_path, "--label", "p", *FIT)
    _refused(res, "a prediction written by ridge_decode, not a fit")
    lab_now = _digest(lab)  # the lab's files as they were (beside them: the file's own feature cache)
    assert {k: lab_now[k] for k in ("sub01.h5", "notes.txt")} == {k[len("sub01/"):]: v for k, v in before.items()}

    # a run written before the marker existed is recognised by its summary (users' old outputs keep working)
    (fit / MARKER).unlink()
    assert run("fit", "--input", lab / "sub01.h5", "--out", tmp_path / "out", *FIT).exit_code == 0
    assert (fit / MARKER).exists()


def test_a_nifti_fit_whose_folder_is_the_study_is_refused(tmp_path):
    """``--trials study/trials/trials.tsv --out study``: the fit's folder study/trials is where the data is."""
    options = write_nifti(tmp_path / "study" / "trials", _dataset())
    before = _digest(tmp_path)
    args = [f"--{k}={v}" for k, v in options.items()]
    res = run("fit", *args, "--out", tmp_path / "study", *FIT)
    _refused(res, "trials.tsv", "mask.nii.gz", "images/", "not a fit")
    assert _digest(tmp_path) == before


def test_maps_refuse_a_fit_or_a_parent_of_fits_and_check_the_fits_voxels(tmp_path):
    study = write_nifti(tmp_path / "study", _dataset())
    args = [f"--{k}={v}" for k, v in study.items()] + ["--label", "s1"]
    assert run("fit", *args, "--out", tmp_path / "outputs", *FIT).exit_code == 0
    fit = tmp_path / "outputs" / "s1"
    before = _digest(tmp_path / "outputs")
    _refused(run("maps", *args, "--model-dir", fit, "--out", fit), "a fit written by ridge_decode, not brain maps")
    _refused(run("maps", *args, "--model-dir", fit, "--out", tmp_path / "outputs"), "s1/ (a fit)", "not brain maps")
    assert _digest(tmp_path / "outputs") == before

    res = run("maps", *args, "--model-dir", fit, "--out", tmp_path / "maps")
    assert res.exit_code == 0, res.output
    written = json.loads((tmp_path / "maps" / "maps.json").read_text())
    summary = json.loads((fit / "summary.json").read_text())
    assert written["fit"]["run_id"] == summary["run_id"] and Path(written["fit"]["model_dir"]) == fit.resolve()
    assert written["run_id"] != summary["run_id"]  # the maps' own run, and the fit's it read
    marker = json.loads((tmp_path / "maps" / MARKER).read_text())
    assert marker == {"kind": "maps", "run_id": written["run_id"], "written_by": "ridge_decode",
                      "files": sorted(p.name for p in (tmp_path / "maps").iterdir() if p.name != MARKER)}

    # another mask with as many voxels: predict refused it, and so do maps now (no pattern at unseen voxels)
    other = write_nifti(tmp_path / "other", _dataset(), mask=_mask(seed=1))
    other_args = [f"--{k}={v}" for k, v in other.items()] + ["--label", "s1"]
    for command in (["predict", "--out", tmp_path / "p2"], ["maps", "--out", tmp_path / "m2"]):
        res = run(command[0], *other_args, "--model-dir", fit, *command[1:])
        assert res.exit_code == 1 and "not the same ones" in res.output and str(fit) in res.output, res.output
    assert not (tmp_path / "m2").exists()

    # another subject's voxels under the fit's label: the error names the fit and the source, before any map
    d = _dataset()
    few = np.zeros_like(_mask())
    few.ravel()[np.flatnonzero(_mask())[:150]] = True
    small = write_nifti(tmp_path / "small", {**d, "betas": d["betas"][:, :150]}, mask=few)
    res = run("maps", *[f"--{k}={v}" for k, v in small.items()], "--label", "s1", "--model-dir", fit,
              "--out", tmp_path / "m3")
    assert res.exit_code == 1 and "150 voxels" in res.output and "200 voxels" in res.output, res.output
    assert str(fit) in res.output and "encoding map" not in res.output, res.output


# ----------------------------------------------------------------------------------------------- --aggregate
def _evaluation(folder: Path, label: str, pixcorr: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({
        "label": label, "recon_dir": "recon", "run_id": f"run-{label}", "source": {"data_kind": "synthetic"},
        "metrics": {"pixcorr": pixcorr, "ssim": 0.5}}))
    (folder / "per_image.json").write_text("{}")
    return folder


def test_aggregate_never_writes_into_its_inputs_and_two_at_once_leave_one_whole_mean(tmp_path):
    e1, e2 = _evaluation(tmp_path / "eval" / "subj01", "subj01", 0.2), _evaluation(tmp_path / "eval" / "subj02",
                                                                                  "subj02", 0.4)
    before = _digest(tmp_path)
    _refused(run("evaluate", "--aggregate", e1, e2, "--out", e1), "one of the folders --aggregate averages")
    _refused(run("evaluate", "--aggregate", e1, e2, "--out", tmp_path / "eval"), "nested with one of")
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "table.csv").write_text("a,b\n")
    before = _digest(tmp_path)
    _refused(run("evaluate", "--aggregate", e1, e2, "--out", tmp_path / "lab"), "table.csv", "not an evaluation mean")
    _refused(run("evaluate", "--aggregate", e1, e2, "--out", e2.parent.parent / "eval" / ".." / "eval" / "subj02"),
             "one of the folders")
    assert _digest(tmp_path) == before

    # two at once into one folder (real processes): each commits whole or stops on the lock; one mean is left
    out = tmp_path / "mean"
    cmd = [sys.executable, "-m", "ridge_decode.cli", "evaluate", "--aggregate", str(e1), str(e2), "--out", str(out)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stdout.read()) for p in procs]
    assert any(rc == 0 for rc, _ in results), results
    assert all(rc == 0 or (rc == 1 and "is in use by" in text) for rc, text in results), results
    mean = json.loads((out / "metrics.json").read_text())
    assert mean["metrics"]["pixcorr"] == pytest.approx(0.3) and mean["run_ids"] == ["run-subj01", "run-subj02"]
    assert json.loads((out / MARKER).read_text())["run_id"] == mean["run_id"]
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "metrics.json", "report.md"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".mean")] == []
    assert run("evaluate", "--aggregate", e1, e2, "--out", out).exit_code == 0  # over its own earlier mean


# ----------------------------------------------------------------------- the seen images are not reconstructions
def test_decode_into_the_stimuli_and_evaluate_of_the_truth_against_itself_are_refused(tmp_path):
    d = _dataset()
    d["names"] = [f"{int(i):05d}.png" for i in d["image_ids"]]  # named as decode names its images
    study = write_nifti(tmp_path / "study", d)
    args = [f"--{k}={v}" for k, v in study.items()] + ["--label", "s1"]
    assert run("fit", *args, "--out", tmp_path / "outputs", *FIT).exit_code == 0
    fit = tmp_path / "outputs" / "s1"
    images = Path(study["images"])
    before = _digest(tmp_path / "study")
    res = run("decode", *args, "--model-dir", fit, "--decoder", "weight-free", "--out", images)
    _refused(res, str(images), "did not write", "not a decode")  # never "12 already there"
    assert _digest(tmp_path / "study") == before

    # two shards of one decode start at once on a new folder (real processes): each finds it empty or a decode's,
    # never holding a foreign entry (the marker's own temporary file included), and both finish
    recon = tmp_path / "recon"
    cmd = [sys.executable, "-m", "ridge_decode.cli", "decode", *args, "--model-dir", str(fit), "--decoder",
           "weight-free", "--out", str(recon)]
    procs = [subprocess.Popen([*cmd, "--shard", f"{k}/2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for k in range(2)]
    results = [(p.wait(timeout=300), p.stdout.read()) for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    assert json.loads((recon / MARKER).read_text())["kind"] == "decode"
    assert len(list(recon.glob("0*.png"))) == N_TEST  # every test image, once
    evaluate = ["evaluate", *args, "--weights-root", tmp_path / "no_weights"]
    res = run(*evaluate, "--recon-dir", images, "--out", tmp_path / "e")
    assert res.exit_code == 1 and "holds no decode written by ridge_decode" in res.output, res.output
    res = run(*evaluate, "--recon-dir", tmp_path / "recno", "--out", tmp_path / "e")
    assert res.exit_code == 1 and "recno does not exist" in res.output and "earlier version" not in res.output
    _refused(run(*evaluate, "--recon-dir", recon, "--out", recon), "a decode written by ridge_decode",
             "not an evaluation")
    for png in recon.glob("0*.png"):  # the truth copied over the reconstructions: a copy is the truth too
        shutil.copy(images / png.name, png)
    res = run(*evaluate, "--recon-dir", recon, "--out", tmp_path / "e")
    assert res.exit_code == 1 and "are the seen images themselves" in res.output, res.output
    assert not (tmp_path / "e").exists()


# ------------------------------------------------------------------------------------- a second simulate
def test_a_second_simulate_adds_subjects_only_with_the_roots_settings(tmp_path):
    from ridge_decode.simulation import simulate
    from ridge_decode.sources import NSDSource
    from ridge_decode.sources.nsd import load_subject

    root = tmp_path / "root"
    small = {"size": "tiny", "sessions": 1, "image_size": 32, "preset": "easy", "progress": False}
    simulate(root, subjects=(1,), **small)
    subject1 = {k: v for k, v in _digest(root).items() if "subj01" in k}
    identity = NSDSource(root, 1).identity()
    stimuli = h5py.File(root / "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5", "r")
    shown1 = np.unique(load_subject(1, root, use_cache=False, progress=False).train_ids)
    images1 = stimuli["imgBrick"][np.sort(shown1)[:20]]
    stimuli.close()

    before = _digest(root)
    for changed, named in (({"seed": 1}, "seed 0 there, 1 asked"), ({"preset": "nsd"}, "preset 'easy' there"),
                           ({"image_size": 64}, "image_size 32 there, 64 asked")):
        with pytest.raises(ValueError, match=named):
            simulate(root, subjects=(2,), **{**small, **changed})
        assert _digest(root) == before  # nothing rewritten: subject 1 is never told to download NSD
    res = run("simulate", "--out", root, "--size", "tiny", "--subjects", "2", "--sessions", "1", "--image-size",
              "32", "--seed", "3", "--preset", "easy")
    _refused(res, "seed 0 there, 3 asked")

    simulate(root, subjects=(2,), **small)  # the same settings: subject 2 joins, subject 1 stays as it was
    assert {k: v for k, v in _digest(root).items() if "subj01" in k} == subject1
    assert json.loads((root / "synthetic.json").read_text())["subjects"] == [1, 2]
    assert NSDSource(root, 1).identity() == identity  # its fits and caches stay of this source
    with h5py.File(root / "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5", "r") as f:
        np.testing.assert_array_equal(f["imgBrick"][np.sort(shown1)[:20]], images1)
    assert len(load_subject(2, root, use_cache=False, progress=False).train_ids) > 0
    with h5py.File(root / "nsddata/ppdata/subj01/synthetic_ground_truth.h5") as a, \
            h5py.File(root / "nsddata/ppdata/subj02/synthetic_ground_truth.h5") as b:
        # one shared image-to-latent map, fitted on subject 1's images
        np.testing.assert_array_equal(a["latent_model/phi_mean"][()], b["latent_model/phi_mean"][()])

    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "sub01.h5").write_bytes(b"data")
    with pytest.raises(ValueError, match="sub01.h5"):
        simulate(lab, subjects=(1,), **small)
    assert [p.name for p in lab.iterdir()] == ["sub01.h5"]


# --------------------------------------------------------------------------- the user's files, exact messages
def test_a_damaged_fit_and_a_label_from_a_file_name_are_named(tmp_path):
    path = _write(tmp_path / "mine.h5")
    assert run("fit", "--input", path, "--out", tmp_path / "out", *FIT).exit_code == 0
    fit = tmp_path / "out" / "mine"

    no_ids = tmp_path / "no_ids"
    shutil.copytree(fit, no_ids)
    with h5py.File(no_ids / "predictions.h5", "a") as f:
        del f["ids"]
    for command in ("predict", "decode"):
        res = run(command, "--input", path, "--model-dir", no_ids, "--out", tmp_path / command)
        assert res.exit_code == 1 and "predictions.h5 has no 'ids'" in res.output, res.output
        assert "bug" not in res.output

    no_config = tmp_path / "no_config"
    shutil.copytree(fit, no_config)
    summary = json.loads((no_config / "summary.json").read_text())
    del summary["config"]
    (no_config / "summary.json").write_text(json.dumps(summary))
    res = run("predict", "--input", path, "--model-dir", no_config, "--out", tmp_path / "p")
    assert res.exit_code == 1 and "summary.json has no 'config'" in res.output and "bug" not in res.output

    odd = tmp_path / "a\nb.h5"
    shutil.copy(path, odd)
    res = run("fit", "--input", odd, "--out", tmp_path / "out", *FIT)
    assert res.exit_code == 2 and "taken from the file name of --input" in res.output, res.output
    assert "since no --label was given" in res.output and "--label must" not in res.output
    assert run("fit", "--input", odd, "--label", "ab", "--out", tmp_path / "out", *FIT).exit_code == 0


def test_transfer_with_a_mistyped_reference_dir_names_it(tmp_path):
    path = _write(tmp_path / "mine.h5")
    typo = tmp_path / "outputs" / "subj1"
    res = run("transfer", "--input", path, "--reference-dir", typo, "--train-fraction", "1", "--out",
              tmp_path / "outputs")  # the NSD reference's root: $RIDGE_DECODE_DATA, empty here
    assert res.exit_code == 1, res.output
    first = next(line for line in res.output.splitlines() if line.startswith("Error:"))
    assert first.startswith(f"Error: --reference-dir {typo} holds no fit (no such folder): if it is mistyped"), first
    assert "bug" not in res.output
    assert not typo.exists()


def test_a_transfer_result_replaces_only_its_own_earlier_result(tmp_path):
    path = _write(tmp_path / "mine.h5")
    theirs = tmp_path / "results.json"
    theirs.write_text('{"a lab": "table"}')
    res = run("transfer", "--input", path, "--json", theirs, "--train-fraction", "1", "--out", tmp_path / "outputs")
    _refused(res, str(theirs), "is not a transfer result")
    assert theirs.read_text() == '{"a lab": "table"}' and not (tmp_path / "outputs").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_the_check_itself_needs_no_write_and_says_permission(tmp_path):
    """An output folder this user cannot list is not taken for empty."""
    path = _write(tmp_path / "mine.h5")
    locked = tmp_path / "out" / "mine"
    locked.mkdir(parents=True)
    (locked / "x").write_text("x")
    locked.chmod(0o000)
    try:
        res = run("fit", "--input", path, "--out", tmp_path / "out", *FIT)
        assert res.exit_code != 0 and "Traceback" not in res.output and "bug" not in res.output, res.output
    finally:
        locked.chmod(0o755)
    assert (locked / "x").read_text() == "x"


# ------------------------------------------------------------------ the hostile probe of round three, second pass
def test_a_rerun_never_deletes_what_its_earlier_run_did_not_write(tmp_path):
    """A run replaces its whole folder: a notebook, a nested prediction or a synthetic root put inside an earlier
    fit's folder was deleted with exit 0. The marker records what the commit wrote; anything else is refused."""
    path = _write(tmp_path / "mine.h5")
    assert run("fit", "--input", path, "--out", tmp_path / "out", *FIT).exit_code == 0
    fit = tmp_path / "out" / "mine"
    assert set(json.loads((fit / MARKER).read_text())["files"]) == {p.name for p in fit.iterdir()} - {MARKER}
    (fit / "my_analysis.ipynb").write_text("{}")
    assert run("predict", "--input", path, "--model-dir", fit, "--out", fit / "pred").exit_code == 0
    before = _digest(tmp_path / "out")
    res = run("fit", "--input", path, "--out", tmp_path / "out", *FIT)
    _refused(res, "2 entries it did not write", "my_analysis.ipynb", "pred/", "left untouched")
    assert _digest(tmp_path / "out") == before
    (fit / "my_analysis.ipynb").unlink()
    shutil.rmtree(fit / "pred")
    assert run("fit", "--input", path, "--out", tmp_path / "out", *FIT).exit_code == 0  # its own files: rewritten


def test_a_users_folders_named_like_a_commits_are_left_alone(tmp_path):
    """``.results.old-2023`` and ``.results.gen-final`` beside an output folder were taken for a killed commit's
    generations: removed, or renamed into the output folder."""
    from ridge_decode.runtime.runs import new_run_id, recover

    folder = tmp_path / "results"
    mine = [tmp_path / ".results.old-2023", tmp_path / ".results.gen-final"]
    for p in mine:
        p.mkdir()
        (p / "thesis.tex").write_text("mine")
    recover(folder)
    assert not folder.exists() and all((p / "thesis.tex").read_text() == "mine" for p in mine)
    ours = tmp_path / f".results.gen-{new_run_id()}"  # a killed commit's generation is still restored
    ours.mkdir()
    recover(folder)
    assert folder.is_dir() and not ours.exists() and all(p.exists() for p in mine)


def test_simulate_into_another_kind_of_run_a_duplicate_aggregate_and_a_dangling_link_are_refused(tmp_path):
    path = _write(tmp_path / "mine.h5")
    assert run("fit", "--input", path, "--out", tmp_path / "out", *FIT).exit_code == 0
    fit = tmp_path / "out" / "mine"
    before = _digest(fit)
    _refused(run("simulate", "--size", "tiny", "--subjects", "1", "--out", fit), "a fit written by ridge_decode")
    assert _digest(fit) == before
    res = run("evaluate", "--aggregate", fit, fit, "--out", tmp_path / "mean")
    assert res.exit_code != 0 and "twice" in res.output and "bug" not in res.output, res.output
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    _refused(run("fit", "--input", path, "--out", tmp_path / "dangling", "--label", "x", *FIT), "link to nothing")
    _refused(run("predict", "--input", path, "--model-dir", fit, "--out", tmp_path / "dangling"), "link to nothing")
