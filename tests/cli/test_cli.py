import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from builders import write_own_from_nsd
from click.testing import CliRunner

from ridge_decode.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_extract_fit_writes_summary(synthetic_copy, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["extract-features", "--families", "pixels", "--data-root", str(synthetic_copy)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "outputs"
    res = runner.invoke(main, ["fit", "--subject", "1", "--data-root", str(synthetic_copy), "--families", "pixels",
                               "--out", str(out), "--alphas", "0:6:7"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "subj01" / "summary.json").read_text())
    assert (summary["n_train"], summary["n_test"]) == (450, 50)
    g = summary["groups"]["pixels"]
    assert g["n_targets"] == 32 * 32 * 3 and 0.2 < g["mean_r"] < 1 and len(g["alpha_quantiles"]) == 5
    assert {"load", "fit", "fit.eigh", "fit.solve", "predict", "write"} <= set(summary["seconds"])
    assert summary["peak_rss_mb"] > 0 and summary["config"]["alpha_per"] == "target"
    assert (out / "subj01" / "fit_summary.png").exists()
    assert not list((out / "subj01").glob("*.part"))
    # the saved model reproduces the saved test predictions, keyed by 73k id
    import h5py

    from ridge_decode.ridge import OneStageRidge
    from ridge_decode.sources.nsd import load_subject

    data = load_subject(1, synthetic_copy, progress=False)
    with h5py.File(out / "subj01" / "predictions.h5", "r") as f:
        np.testing.assert_array_equal(f["ids"][()], data.test_ids)
        saved, r = f["pred/pixels"][()], f["r/pixels"][()]
    assert saved.shape == (50, 32, 32, 3) and r.shape == (3072,)
    model = OneStageRidge.load(out / "subj01" / "model.h5")
    # the same stored arrays through the same code, in the same process: bit for bit
    np.testing.assert_array_equal(model.predict(data.test_betas)["pixels"], saved)


def test_fit_selects_voxels_by_noise_ceiling(synthetic_copy, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["extract-features", "--data-root", str(synthetic_copy)]).exit_code == 0
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--out", str(tmp_path / "all")])
    assert res.exit_code == 0, res.output
    full = json.loads((tmp_path / "all" / "subj01" / "summary.json").read_text())
    nc = full["noise_ceiling"]
    assert nc["voxels_kept"] == nc["voxels_total"] == full["n_voxels"] and "noise ceiling" in res.output
    threshold = nc["median_nc_all"]
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--min-nc", str(threshold),
                               "--out", str(tmp_path / "sel")])
    assert res.exit_code == 0, res.output
    sel = json.loads((tmp_path / "sel" / "subj01" / "summary.json").read_text())
    assert 0 < sel["n_voxels"] < full["n_voxels"] and sel["noise_ceiling"]["median_nc_kept"] >= threshold
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--min-nc", "100",
                               "--out", str(tmp_path / "none")])
    assert res.exit_code != 0 and "no voxel has a noise ceiling >= 100.0%" in res.output


def test_fit_brain_diffuser_baseline(synthetic_copy, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["extract-features", "--data-root", str(synthetic_copy)]).exit_code == 0
    out = tmp_path / "bd"
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--fixed-alpha", "pixels=5e4",
                               "--rescale", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "subj01" / "summary.json").read_text())
    assert summary["groups"]["pixels"]["alpha_quantiles"] == [5e4] * 5
    assert summary["config"]["rescale"] is True and "fit.eigh" not in summary["seconds"]
    import h5py

    with h5py.File(out / "subj01" / "predictions.h5", "r") as f:
        pred = f["pred/pixels"][()].reshape(50, -1)
        assert f.attrs["rescaled_with_test_statistics"]
    from ridge_decode.features import FeatureStore
    from ridge_decode.sources.nsd import load_subject

    data = load_subject(1, synthetic_copy, progress=False)
    y = FeatureStore(synthetic_copy / "features").read("pixels", data.train_ids).reshape(len(data.train_ids), -1)
    varying = pred.std(0) > 0
    np.testing.assert_allclose(pred.std(0)[varying], y.std(0)[varying], rtol=1e-3)  # rescaled to training spread
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--fixed-alpha", "pixels:5",
                               "--out", str(out)])
    assert res.exit_code == 2 and "'--fixed-alpha': expected a number or 'group=alpha,...'" in res.output
    # --fixed-alpha X is the shorthand of --solver fixed --alphas X: the same predictions
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--solver", "fixed", "--alphas",
                               "pixels=5e4", "--rescale", "--out", str(tmp_path / "long")])
    assert res.exit_code == 0, res.output
    with h5py.File(tmp_path / "long" / "subj01" / "predictions.h5", "r") as f:
        np.testing.assert_array_equal(f["pred/pixels"][()].reshape(50, -1), pred)
    for args, message in ((["--fixed-alpha", "5e4", "--alphas", "1:2:3"], "give it alone"),
                          (["--solver", "fixed"], "--solver fixed needs the alpha"),
                          (["--solver", "fixed", "--alphas", "pixels:5"], "'--alphas': expected a number")):
        res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), *args, "--out", str(out)])
        assert res.exit_code == 2 and message in res.output, res.output


def test_fit_without_nsd_says_what_is_missing(tmp_path):
    res = CliRunner().invoke(main, ["fit", "--subject", "1", "--data-root", str(tmp_path / "empty")])
    assert res.exit_code != 0
    assert "nsd_expdesign.mat" in res.output and "fetch_nsd.py" in res.output and "simulate.py" in res.output


def test_fit_computes_missing_pixels_on_the_fly(synthetic_copy, tmp_path):
    res = CliRunner().invoke(main, ["fit", "--data-root", str(synthetic_copy), "--families", "pixels",
                                    "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "not in the feature cache" in res.output and "computing them now" in res.output
    assert (synthetic_copy / "features" / "pixels.h5").exists() and (tmp_path / "subj01" / "summary.json").exists()


def test_fit_names_the_extraction_command_for_a_missing_group(synthetic_copy, tmp_path):
    res = CliRunner().invoke(main, ["fit", "--data-root", str(synthetic_copy), "--families", "autokl",
                                    "--out", str(tmp_path)])
    assert res.exit_code != 0 and "extract_features.py --families autokl" in res.output


def test_demo_writes_figure_and_scores(synthetic_copy, tmp_path):
    res = CliRunner().invoke(main, ["demo", "--data-root", str(synthetic_copy), "--out", str(tmp_path / "res")])
    assert res.exit_code == 0, res.output
    scores = json.loads((tmp_path / "res" / "scores.json").read_text())
    assert scores["decoder"] == "weight-free"
    assert scores["two_way_identification_pixels"] > 0.7 > scores["two_way_identification_shuffled"]
    assert (tmp_path / "res" / "reconstructions.png").stat().st_size > 10_000


@pytest.mark.slow  # starts subprocesses
def test_scripts_are_thin_wrappers():
    for name in ("simulate", "check_data", "fetch_nsd", "extract_features", "fit", "predict", "decode", "evaluate",
                 "transfer", "reproduce_nsd", "demo"):
        res = subprocess.run([sys.executable, str(REPO / "scripts" / f"{name}.py"), "--help"],
                             capture_output=True, text=True, check=True)
        assert "Usage:" in res.stdout


def test_generic_input_goes_through_extract_and_fit(synthetic_root, tmp_path):
    path = tmp_path / "mine.h5"
    write_own_from_nsd(path, synthetic_root, use_cache=False)
    runner = CliRunner()
    res = runner.invoke(main, ["fit", "--input", str(path), "--families", "autokl", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and f"--input {path}" in res.output  # a family that needs weights: the command
    assert runner.invoke(main, ["extract-features", "--input", str(path)]).exit_code == 0
    res = runner.invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "o" / "mine" / "summary.json").read_text())
    assert summary["n_test"] == 50 and summary["groups"]["pixels"]["mean_r"] > 0.2


@pytest.mark.slow  # starts subprocesses
def test_console_entry_point_is_installed():
    exe = Path(sys.executable).parent / "ridge-decode"
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for cmd in ("simulate", "check-data", "fetch-nsd", "extract-features", "fit", "predict", "decode", "evaluate",
                "transfer", "reproduce", "demo"):
        assert cmd in res.stdout


def test_user_errors_are_one_line_and_bugs_name_their_traceback_log(tmp_path, monkeypatch):
    from ridge_decode import pipeline
    from ridge_decode.errors import DataFormatError

    runner = CliRunner()
    res = runner.invoke(main, ["fit", "--data-root", str(tmp_path / "empty")])
    assert res.exit_code == 1 and res.output.startswith("Error: Missing") and "Traceback" not in res.output
    res = runner.invoke(main, ["extract-features", "--families", "nope", "--data-root", str(tmp_path)])
    assert res.exit_code == 2 and "unknown feature families ['nope']" in res.output  # a bad value: a usage error

    def broken(request):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(pipeline, "fit_subject", broken)
    monkeypatch.setenv("RIDGE_DECODE_LOGS", str(tmp_path / "logs"))
    res = runner.invoke(main, ["fit", "--data-root", str(tmp_path)])
    # a bug: one line that names it and the log with the whole traceback, exit 1; never hidden, never raw
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "unexpected error (ZeroDivisionError: a bug)" in res.output and "report it" in res.output
    (log,) = (tmp_path / "logs").glob("error-*.log")
    assert str(log) in res.output
    text = log.read_text()
    assert "Traceback" in text and "ZeroDivisionError: a bug" in text and "in broken" in text
    monkeypatch.setenv("RIDGE_DECODE_DEBUG", "1")
    res = runner.invoke(main, ["fit", "--data-root", str(tmp_path)])
    assert isinstance(res.exception, ZeroDivisionError)  # for developers: the traceback through
    assert issubclass(DataFormatError, ValueError)  # callers that catch the built-in errors still do


def test_no_command_module_imports_another():
    import ast

    for path in (REPO / "ridge_decode" / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and path.name not in ("__init__.py", "__main__.py"):
                # _group (the shared options) and source_options (the sources' option specs) are not commands
                assert node.module in ("_group", "source_options"), f"{path.name} imports .{node.module}"


def test_written_files_honour_the_umask(tmp_path):
    import os
    import stat

    from ridge_decode.runtime.io import atomic_path, write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"1")
    finally:
        os.umask(old)
    for name in ("a.json", "b.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644  # readable by group and others


def test_fit_request_fixed_alpha_is_deprecated_for_solver_fixed():
    from ridge_decode.pipeline import FitRequest

    with pytest.warns(FutureWarning, match=r"FitRequest\(solver='fixed', alphas=X\)"):
        req = FitRequest(source=None, fixed_alpha={"pixels": 5e4})
    assert (req.solver, req.alphas, req.fixed_alpha) == ("fixed", {"pixels": 5e4}, None)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="cannot go with solver='himalaya'"):
        FitRequest(source=None, fixed_alpha=5.0, solver="himalaya")
