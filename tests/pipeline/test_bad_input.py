"""Every bad input is stopped before any work, with a message (no traceback) that names the file or the option, and
leaves an existing output folder exactly as it was; and your own data runs end to end."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from builders import digest
from click.testing import CliRunner
from planted import coarse_images

from ridge_decode.cli import main

N_TRAIN, N_TEST, N_VOXELS, SIDE = 60, 12, 80, 32


def _valid(seed=0) -> dict:
    """A small own-data file's datasets: 32 x 32 images, and betas that read their coarse colour layout linearly."""
    n = N_TRAIN + N_TEST
    ids, coarse, images, W, rng = coarse_images(n, N_VOXELS, SIDE, seed=seed)
    betas = (coarse - 0.5) @ W + 0.3 * rng.standard_normal((n, N_VOXELS))
    return {"train/betas": betas[:N_TRAIN].astype(np.float32), "train/ids": ids[:N_TRAIN],
            "test/betas": betas[N_TRAIN:].astype(np.float32), "test/ids": ids[N_TRAIN:],
            "images": images[::-1], "image_ids": ids[::-1]}


def _write(path: Path, **changes) -> Path:
    data = _valid()
    data.update({k.replace("__", "/"): v for k, v in changes.items()})
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            if v is not None:
                f[k] = v
    return path


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A valid own-data file and a completed fit of it in ``out/mine`` (the folder bad runs must not touch)."""
    root = tmp_path_factory.mktemp("own")
    path = _write(root / "mine.h5")
    res = CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(root / "out"), "--alphas", "-2:4:7"])
    assert res.exit_code == 0, res.output
    return root, path


def _bad_file(**changes):
    return lambda root: _write(root / "bad.h5", **changes)


v = _valid()
FILE_CASES = {
    # own-data file defects, run as `fit --input FILE`: (changes, exit code, words the message must hold)
    "all-zero betas": (dict(train__betas=np.zeros((N_TRAIN, N_VOXELS), np.float32)), 1, ["constant", "voxels"]),
    "one training row": (dict(train__betas=v["train/betas"][:1], train__ids=v["train/ids"][:1]), 1,
                         ["train/ids", "1 distinct images", "at least 10"]),
    "two training rows": (dict(train__betas=v["train/betas"][:2], train__ids=v["train/ids"][:2]), 1,
                          ["train/ids", "2 distinct images"]),
    "four training rows": (dict(train__betas=v["train/betas"][:4], train__ids=v["train/ids"][:4]), 1,
                           ["train/ids", "4 distinct images"]),
    "NaN in training betas": (dict(train__betas=np.where(np.eye(N_TRAIN, N_VOXELS) > 0, np.nan, v["train/betas"])),
                              1, ["train/betas", "NaN or infinite", "row 0, voxel 0"]),
    "inf only in test betas": (dict(test__betas=np.where(np.eye(N_TEST, N_VOXELS, 3) > 0, np.inf, v["test/betas"])),
                               1, ["test/betas", "NaN or infinite", "voxel 3"]),
    "empty test set": (dict(test__betas=np.zeros((0, N_VOXELS), np.float32), test__ids=np.zeros(0, np.int64)), 1,
                       ["test/ids", "0 distinct images"]),
    "float ids": (dict(train__ids=v["train/ids"] + np.r_[0.4, np.zeros(N_TRAIN - 1)]), 1,
                  ["train/ids", "not whole numbers", "5000.4"]),
    "duplicate image ids": (dict(image_ids=np.r_[v["image_ids"][:-1], v["image_ids"][0]]), 1,
                            ["image_ids", "repeated ids"]),
    "training id also a test id": (dict(test__ids=np.r_[v["train/ids"][:1], v["test/ids"][1:]]), 1,
                                   ["test/ids", "also training ids", "leaks"]),
    "integer betas": (dict(train__betas=np.rint(v["train/betas"] * 300).astype(np.int16)), 1,
                      ["train/betas", "integer dtype int16", "/ 300"]),
    "voxel counts differ": (dict(test__betas=v["test/betas"][:, :-1]), 1, ["test/betas", "79 voxels", "80"]),
    "missing image_ids": (dict(image_ids=None), 1, ["image_ids", "no such dataset"]),
    "float images": (dict(images=v["images"].astype(np.float32) / 255), 1, ["images", "uint8", "float32"]),
}


@pytest.mark.parametrize("case", FILE_CASES, ids=list(FILE_CASES))
def test_bad_own_data_is_stopped_before_any_work(own, case, tmp_path):
    root, _ = own
    changes, code, words = FILE_CASES[case]
    bad = _write(tmp_path / "bad.h5", **changes)
    before = digest(root / "out")
    commands = [["fit", "--input", str(bad), "--out", str(root / "out")]]
    if case in ("float images", "missing image_ids"):  # what extraction reads: it must stop too
        commands.append(["extract-features", "--input", str(bad), "--features-dir", str(tmp_path / "f")])
    for args in commands:
        res = CliRunner().invoke(main, args)
        assert res.exit_code == code, (args, res.output)
        assert "Traceback" not in res.output and not isinstance(res.exception, (TypeError, KeyError, IndexError))
        assert str(bad) in res.output, res.output
        for w in words:
            assert w in res.output, (w, res.output)
    assert digest(root / "out") == before
    assert not (tmp_path / "f").exists()  # nothing was extracted


OPTION_CASES = {
    # (arguments after the command's own valid ones, words the usage error must hold)
    "alphas negative": (["fit", "--alphas", "-5"], ["--alphas", "finite positive"]),
    "alphas zero": (["fit", "--alphas", "0"], ["--alphas"]),
    "alphas nan": (["fit", "--alphas", "nan"], ["--alphas"]),
    "alphas inf": (["fit", "--alphas", "inf"], ["--alphas"]),
    "alphas overflow": (["fit", "--alphas", "1e400"], ["--alphas"]),
    "alphas grid overflow": (["fit", "--alphas", "0:400:3"], ["--alphas"]),
    "fixed alpha zero": (["fit", "--fixed-alpha", "0"], ["--fixed-alpha"]),
    "fit subject 0": (["fit", "--subject", "0"], ["--subject"]),
    "fit subject 9": (["fit", "--subject", "9", "--data-root", "{nsd}"], ["--subject", "1..8"]),
    "own-data subject 0": (["fit", "--input", "{file}", "--subject", "0"], ["--subject"]),
    "chunk size negative": (["fit", "--chunk-size", "-5"], ["--chunk-size"]),
    "chunk size zero": (["fit", "--chunk-size", "0"], ["--chunk-size"]),
    "out holds a file as the label": (["fit", "--input", "{file}", "--out", "{file_out}"], ["--out", "is a file"]),
    "features dir is a file": (["fit", "--input", "{file}", "--features-dir", "{file}"], ["--features-dir"]),
    "check-data subject 0": (["check-data", "--subject", "0"], ["--subject"]),
    "check-data subject 9": (["check-data", "--subject", "9", "--data-root", "{nsd}"], ["--subject", "1..8"]),
    "simulate subject 0": (["simulate", "--subjects", "0", "--out", "{scratch}"], ["--subjects"]),
    "simulate subject 9": (["simulate", "--subjects", "9", "--out", "{scratch}"], ["--subject", "1..8"]),
    "simulate sessions 0": (["simulate", "--sessions", "0", "--out", "{scratch}"], ["--sessions"]),
    "decode images 0": (["decode", "--n-images", "0"], ["--n-images"]),
    "decode batch 0": (["decode", "--batch-size", "0"], ["--batch-size"]),
    "decode steps 0": (["decode", "--steps", "0"], ["--steps"]),
    "decode ids": (["decode", "--ids", "1.5"], ["--ids"]),
    "evaluate batch 0": (["evaluate", "--batch-size", "0"], ["--batch-size"]),
    "extract batch 0": (["extract-features", "--batch-size", "0"], ["--batch-size"]),
    "extract subjects": (["extract-features", "--subjects", "x"], ["--subjects"]),
    "transfer rank 0": (["transfer", "--rank", "0"], ["--rank"]),
    "fetch subject 0": (["fetch-nsd", "--subject", "0", "--dry-run"], ["--subject"]),
    "demo n-show 0": (["demo", "--n-show", "0"], ["--n-show"]),
    "reproduce steps 0": (["reproduce", "--decode-steps", "0", "--dry-run"], ["--decode-steps"]),
    "transfer fraction 2": (["transfer", "--train-fraction", "2", "--data-root", "{nsd}", "--out", "{out}"],
                            ["--train-fraction"]),
}


@pytest.mark.parametrize("case", OPTION_CASES, ids=list(OPTION_CASES))
def test_bad_option_is_a_usage_error_naming_it(own, nsd_like_root, case, tmp_path):
    root, path = own
    file_out = tmp_path / "o"
    file_out.mkdir()
    (file_out / "mine").write_text("not a folder")
    args, words = OPTION_CASES[case]
    args = [a.format(nsd=nsd_like_root, file=path, file_out=file_out, scratch=tmp_path / "s", out=root / "out")
            for a in args]
    before = digest(root / "out")
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, (args, res.output)
    assert "Traceback" not in res.output and "Usage:" in res.output
    for w in words:
        assert w in res.output, (w, res.output)
    assert digest(root / "out") == before
    assert not (tmp_path / "s").exists()


def test_own_data_end_to_end_weight_free(own, tmp_path):
    """extract-features, fit, decode and evaluate, each with --input, on a generated file; strict JSON throughout."""
    root, path = own
    fit_dir = root / "out" / "mine"
    summary = json.loads((fit_dir / "summary.json").read_text())
    assert (summary["n_train"], summary["n_test"], summary["n_voxels"]) == (N_TRAIN, N_TEST, N_VOXELS)
    assert summary["groups"]["pixels"]["mean_r"] > 0.5 and summary["groups"]["pixels"]["n_undefined_r"] == 0
    recon, ev = tmp_path / "recon", tmp_path / "eval"
    runner = CliRunner()
    res = runner.invoke(main, ["decode", "--input", str(path), "--model-dir", str(fit_dir), "--decoder",
                               "weight-free", "--out", str(recon)])
    assert res.exit_code == 0, res.output
    assert len(list(recon.glob("050*.png"))) == N_TEST and (recon / "grid.png").exists()
    res = runner.invoke(main, ["evaluate", "--input", str(path), "--recon-dir", str(recon), "--out", str(ev),
                               "--weights-root", str(tmp_path / "no_weights")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((ev / "metrics.json").read_text(), parse_constant=_reject)
    assert metrics["n_images"] == N_TEST and metrics["ground_truth"] == str(path)
    assert metrics["metrics"]["pixcorr"] > 0.5  # the planted coarse layout is recovered
    assert not list(ev.parent.glob(f".{ev.name}.*")) and not list(fit_dir.parent.glob(".mine.*"))
    for p in [*fit_dir.glob("*.json"), *recon.glob("*.json"), *ev.glob("*.json")]:
        json.loads(p.read_text(), parse_constant=_reject)  # NaN / Infinity would be rejected here


def _reject(name):
    raise ValueError(f"non-standard JSON constant {name}")


def test_decode_refuses_a_folder_of_another_decode(own, tmp_path):
    root, path = own
    fit_dir = root / "out" / "mine"
    recon = tmp_path / "recon"
    args = ["decode", "--input", str(path), "--model-dir", str(fit_dir), "--decoder", "weight-free", "--out",
            str(recon), "--n-images", "2"]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = digest(recon)
    res = CliRunner().invoke(main, args + ["--samples", "2"])
    assert res.exit_code == 2 and "samples" in res.output and "another decode" in res.output, res.output
    assert digest(recon) == before


def test_an_interrupted_fit_leaves_the_previous_run_whole_and_resumes(own, tmp_path, monkeypatch):
    import shutil

    from ridge_decode.ridge import runner

    root, path = own
    out = tmp_path / "out"
    shutil.copytree(root / "out", out)
    before = digest(out)
    real, calls = runner.EigenGCV.solve, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner.EigenGCV, "solve", interrupted)
    args = ["fit", "--input", str(path), "--out", str(out), "--alphas", "-2:4:7", "--chunk-size", "1000"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 130 and "fit interrupted by SIGINT" in res.output  # one line, 128 + SIGINT
    part = ".mine.next/model.h5.part"  # staged beside the folder, which still holds the previous run
    assert digest(out) == {**before, part: digest(out)[part]}
    assert "MB of partial files stay in" in res.output  # the resumable file is kept, and its size said
    monkeypatch.setattr(runner.EigenGCV, "solve", real)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "resuming at chunk 2 of 4" in res.output and "resumed: 2 runs" in res.output
    summary = json.loads((out / "mine" / "summary.json").read_text())
    assert [r["chunks_done_before"] for r in summary["runs"]] == [0, 1]
    assert not (out / ".mine.next").exists() and not list(out.glob(".mine.*"))


def test_fit_solver_himalaya_decodes_through_the_same_code(own, tmp_path):
    """`fit --solver himalaya` writes the same model and prediction files: `decode` reads them unchanged."""
    root, path = own
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(out), "--alphas", "-2:4:7",
                                    "--solver", "himalaya", "--cv", "4"])
    assert res.exit_code == 0, res.output
    him = json.loads((out / "mine" / "summary.json").read_text())
    gcv = json.loads((root / "out" / "mine" / "summary.json").read_text())
    assert him["config"]["solver"] == "himalaya" and him["config"]["cv"] == 4
    assert abs(him["groups"]["pixels"]["mean_r"] - gcv["groups"]["pixels"]["mean_r"]) < 0.01
    res = CliRunner().invoke(main, ["decode", "--input", str(path), "--model-dir", str(out / "mine"),
                                    "--decoder", "weight-free", "--out", str(tmp_path / "recon")])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "recon").glob("050*.png"))) == N_TEST
