"""Runs never mix, round two: labels that are paths, a model swapped under a reader, results without provenance,
damaged model files and summaries. Each case is a correct result or one clear line, with nothing lost or mixed and
nothing outside --out touched."""

import json
import pickle
import select
import subprocess
import sys

import h5py
import numpy as np
import pytest
from builders import FIT, digest, write_coarse
from click.testing import CliRunner

from ridge_decode.cli import main
from ridge_decode.ridge import OneStageRidge


def _fit(tmp_path, out="out", label=None, source="mine.h5", seed=0):
    path = tmp_path / source
    if not path.exists():
        write_coarse(path, seed=seed)
    args = ["fit", "--input", str(path), "--out", str(tmp_path / out), *FIT]
    return CliRunner().invoke(main, args + (["--label", label] if label is not None else []))


# ------------------------------------------------------------------------------------- labels are names
@pytest.mark.parametrize("label", [".", "..", "../x", "/abs/x", "", "a/b", "a\\b", " "])
def test_a_label_that_is_a_path_is_one_error_and_touches_nothing(tmp_path, label):
    assert _fit(tmp_path, label="keep").exit_code == 0
    (tmp_path / "out" / "mine_notes.txt").write_text("a user's file")
    before = digest(tmp_path)
    res = _fit(tmp_path, label=label)
    assert res.exit_code == 2 and "--label" in res.output and "must be a name" in res.output, res.output
    assert "Traceback" not in res.output and "bug" not in res.output
    assert digest(tmp_path) == before  # nothing written, nothing deleted, inside --out or outside it
    for command in ("predict", "decode"):
        res = CliRunner().invoke(main, [command, "--input", str(tmp_path / "mine.h5"), "--label", label])
        assert res.exit_code == 2 and "must be a name" in res.output, (command, res.output)


def test_labels_as_names_still_work(tmp_path):
    assert _fit(tmp_path, label="run-1.v2_ok").exit_code == 0
    assert (tmp_path / "out" / "run-1.v2_ok" / "model.h5").exists()


# ---------------------------------------------------------------------- a model swapped under its reader
def _planted(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 15)).astype(np.float32)
    return X, (X @ rng.standard_normal((15, 6))).astype(np.float32) + rng.standard_normal((40, 6)).astype(np.float32)


def test_a_loaded_or_pickled_model_whose_file_is_refitted_stops_instead_of_mixing(tmp_path):
    path = tmp_path / "m.h5"
    XA, YA = _planted(0)
    XB, YB = _planted(1)
    OneStageRidge(path=path).fit(XA, {"y": YA})
    loaded = OneStageRidge.load(path)
    pickled = pickle.dumps(loaded)
    expected = loaded.predict(XA[:5])["y"]
    OneStageRidge(path=path).fit(XB * 3 + 1, {"y": YB})  # another fit, into the same file
    for model in (loaded, pickle.loads(pickled)):
        with pytest.raises(ValueError, match=r"holds another fit than the one loaded .* load it again"):
            model.predict(XA[:5])
        with pytest.raises(ValueError, match="holds another fit"):
            model.save(tmp_path / "copy.h5")
    again = OneStageRidge.load(path)  # the new fit, whole
    assert not np.allclose(again.predict(XA[:5])["y"], expected)
    np.testing.assert_array_equal(again.predict(XB[:5] * 3 + 1)["y"],
                                  OneStageRidge.load(path).predict(XB[:5] * 3 + 1)["y"])


@pytest.mark.slow  # starts a subprocess
def test_predict_while_fits_commit_into_its_model_folder_never_mixes(tmp_path):
    """Two processes: fits of two different sources commit one after the other into one model folder (a child
    process) while predicts read it (this one). Every predict gives one of the two fits' predictions exactly, or
    stops with one line."""
    a, b = write_coarse(tmp_path / "a" / "mine.h5", seed=0), write_coarse(tmp_path / "b" / "mine.h5", seed=0, scale=5.0)
    model_dir = tmp_path / "out" / "mine"
    expected = {}
    for name, path in (("a", a), ("b", b)):
        assert CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "out"), *FIT,
                                         "--families", "pixels"]).exit_code == 0
        assert CliRunner().invoke(main, ["predict", "--model-dir", str(model_dir), "--input", str(a), "--out",
                                         str(tmp_path / f"p_{name}")]).exit_code == 0
        with h5py.File(tmp_path / f"p_{name}" / "predictions.h5") as f:
            expected[name] = f["pred/pixels"][()]
    assert not np.allclose(expected["a"], expected["b"])
    fits = subprocess.Popen([sys.executable, "-c", (
        "import sys\nfrom click.testing import CliRunner\nfrom ridge_decode.cli import main\n"
        "print('imported', flush=True)\n"
        "for k in range(4):  # b, a, b, a: the folder holds b before\n"
        f"    src = {str(a)!r} if k % 2 else {str(b)!r}\n"
        f"    res = CliRunner().invoke(main, ['fit', '--input', src, '--out', {str(tmp_path / 'out')!r}, "
        "'--alphas', '-2:4:7', '--families', 'pixels'])\n"
        "    assert res.exit_code == 0, res.output\n")], stdout=subprocess.PIPE, text=True,
        env={**__import__("os").environ, "PYTHONDONTWRITEBYTECODE": ""})
    outcomes = []
    try:
        ready, _, _ = select.select([fits.stdout], [], [], 120)
        assert ready and fits.stdout.readline().strip() == "imported"  # its fits start now: predict until they end
        while fits.poll() is None and len(outcomes) < 5000:
            out = tmp_path / f"p{len(outcomes)}"
            res = CliRunner().invoke(main, ["predict", "--model-dir", str(model_dir), "--input", str(a), "--out",
                                            str(out)])
            if res.exit_code == 0:
                with h5py.File(out / "predictions.h5") as f:
                    got = f["pred/pixels"][()]
                same = [name for name, e in expected.items() if np.array_equal(got, e)]
                assert same, "predictions of neither fit"
                outcomes.append(same[0])
            else:
                line = res.output.strip().splitlines()[-1]
                assert isinstance(res.exception, SystemExit) and "bug" not in res.output, res.output
                assert "changed while predict read it" in line or "holds another fit" in line or \
                    "no finished fit" in line or "in use by pid" in line, res.output
                outcomes.append("one line")
    finally:
        fits.wait(timeout=300)
    assert fits.returncode == 0  # every fit of the child committed
    assert "a" in outcomes, outcomes  # a predict read the child's commits, not only the fit made before it


# ------------------------------------------------------------------------------------ provenance required
def _strip_source(folder):
    with h5py.File(folder / "predictions.h5", "a") as f:
        del f.attrs["source"]


def test_predictions_without_a_recorded_source_are_refused(tmp_path):
    assert _fit(tmp_path).exit_code == 0
    model_dir = tmp_path / "out" / "mine"
    _strip_source(model_dir)  # as versions before provenance wrote it
    other = write_coarse(tmp_path / "other" / "mine.h5", seed=3)
    for args in (["decode", "--input", str(other), "--model-dir", str(model_dir), "--decoder", "weight-free",
                  "--out", str(tmp_path / "recon")],
                 ["decode", "--input", str(tmp_path / "mine.h5"), "--model-dir", str(model_dir), "--decoder",
                  "weight-free", "--out", str(tmp_path / "recon2")]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 1 and "records no source" in res.output and "scripts/fit.py" in res.output, \
            res.output
    summary = model_dir / "summary.json"
    data = json.loads(summary.read_text())
    del data["source"]
    summary.write_text(json.dumps(data))
    res = CliRunner().invoke(main, ["predict", "--model-dir", str(model_dir), "--input", str(tmp_path / "mine.h5"),
                                    "--out", str(tmp_path / "p")])
    assert res.exit_code == 1 and "records no source" in res.output, res.output


# --------------------------------------------------------------------------- damaged files are data errors
def test_a_damaged_model_or_summary_is_a_data_error_naming_the_file(tmp_path):
    assert _fit(tmp_path).exit_code == 0
    model_dir = tmp_path / "out" / "mine"
    model = model_dir / "model.h5"
    good = model.read_bytes()
    predict = ["predict", "--model-dir", str(model_dir), "--input", str(tmp_path / "mine.h5"), "--out",
               str(tmp_path / "p")]
    model.write_bytes(good[: len(good) // 2])  # truncated
    res = CliRunner().invoke(main, predict)
    assert res.exit_code == 1 and str(model) in res.output and "damaged or truncated" in res.output, res.output
    model.write_bytes(good)
    with h5py.File(model, "a") as f:  # a dataset re-typed by hand
        coef = f["groups/pixels/coef"][()]
        del f["groups/pixels/coef"]
        f["groups/pixels/coef"] = coef.astype(np.int32)
    res = CliRunner().invoke(main, predict)
    assert res.exit_code == 1 and "'groups/pixels/coef' is int32" in res.output and "bug" not in res.output
    model.write_bytes(good)
    (model_dir / "summary.json").write_text("{not json")
    res = CliRunner().invoke(main, predict)
    assert res.exit_code == 1 and "summary.json is not valid JSON" in res.output and "bug" not in res.output


# ------------------------------------------------------------------------ recorded paths and identities
def test_a_moved_fit_reopens_its_own_data_from_another_working_folder(tmp_path, monkeypatch):
    import shutil

    from ridge_decode.errors import DataError
    from ridge_decode.pipeline import reference_source
    from ridge_decode.sources import HDF5Source

    work1, work2 = tmp_path / "work1", tmp_path / "work2"
    write_coarse(work1 / "mine.h5", seed=0)
    write_coarse(work2 / "mine.h5", seed=5)  # another file of the same name, elsewhere
    monkeypatch.chdir(work1)
    assert CliRunner().invoke(main, ["fit", "--input", "mine.h5", "--out", "out", *FIT]).exit_code == 0
    shutil.move(work1 / "out" / "mine", tmp_path / "moved")
    monkeypatch.chdir(work2)
    ref = reference_source(tmp_path / "moved", default=None)
    assert isinstance(ref, HDF5Source) and ref.path == work1 / "mine.h5"  # its own file, not ./mine.h5
    write_coarse(work1 / "mine.h5", seed=7)  # the recorded file replaced by other images
    with pytest.raises(DataError, match=r"summary.json records own-data file mine.h5 at .* \(images differ\)"):
        reference_source(tmp_path / "moved", default=None)


# ------------------------------------------------------------------- options checked where they are parsed
@pytest.mark.parametrize("value, message", [("", "at least one"), ("0,1", r"in \(0, 1\]"), ("1.5", r"in \(0, 1\]"),
                                            ("a,b", "comma-separated numbers")])
def test_transfer_fractions_are_checked_where_parsed(tmp_path, value, message):
    res = CliRunner().invoke(main, ["transfer", "--data-root", str(tmp_path), "--train-fraction", value])
    assert res.exit_code == 2 and "--train-fraction" in res.output and message.replace("\\", "") in \
        res.output.replace("\\", ""), res.output


def test_a_fraction_giving_fewer_than_the_minimum_images_stops_before_any_work(synthetic_root, tmp_path):
    res = CliRunner().invoke(main, ["transfer", "--data-root", str(synthetic_root), "--train-fraction", "1e-9",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "gives 0 of the" in res.output and "at least 10" in res.output, res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("variable", ["RIDGE_DECODE_DATA", "RIDGE_DECODE_WEIGHTS"])
def test_an_environment_variable_naming_a_file_is_said_to_be_one(tmp_path, monkeypatch, synthetic_root, variable):
    user_file = tmp_path / "notes.txt"
    user_file.write_text("mine")
    monkeypatch.setenv(variable, str(user_file))
    args = ["check-data"] if variable == "RIDGE_DECODE_DATA" else ["check-data", "--data-root", str(synthetic_root)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code != 0 and f"${variable} names {user_file}, a file" in res.output, res.output
    assert "delete" not in res.output and user_file.read_text() == "mine"


def test_dataframe_columns_are_checked_against_those_of_fit():
    pd = pytest.importorskip("pandas")
    X, Y = _planted(0)
    frame = pd.DataFrame(X, columns=[f"v{k}" for k in range(X.shape[1])])
    model = OneStageRidge().fit(frame, Y)
    np.testing.assert_array_equal(model.predict(frame), model.predict(X))  # names or none: the same voxels
    with pytest.raises(ValueError, match=r"column names differ from those seen in fit .*'v1', 'v0'"):
        model.predict(frame[["v1", "v0", *frame.columns[2:]]])


# --------------------------------------------------------------------- SIGTERM, and a requeued SLURM task
SLOW = {  # a slowed write in the child process, so that the signal lands in the middle of the work
    "fit": ("ridge_decode.ridge.stores", "HDF5Store", "write_chunk"),
    "extract-features": ("ridge_decode.features.cache", "FeatureWriter", "write"),
    "decode": ("ridge_decode.runtime.layout", None, "save_png"),
}
CHILD = """
import importlib, sys, time
module, owner, name = sys.argv[1:4]
target = importlib.import_module(module)
target = getattr(target, owner) if owner != "-" else target
real = getattr(target, name)
def slow(*args, **kwargs):
    out = real(*args, **kwargs)
    print("written", flush=True)
    time.sleep(0.5)
    return out
setattr(target, name, slow)
from ridge_decode.cli import main
sys.argv = ["ridge-decode", *sys.argv[4:]]  # as the installed command runs
main(sys.argv[1:], prog_name="ridge-decode")
"""


def _command(tmp_path, name):
    data = tmp_path / "mine.h5"
    if name == "fit":
        return ["fit", "--input", str(data), "--out", str(tmp_path / "out"), *FIT, "--chunk-size", "256"]
    if name == "extract-features":
        return ["extract-features", "--input", str(data), "--families", "pixels", "--batch-size", "4"]
    return ["decode", "--input", str(data), "--model-dir", str(tmp_path / "out" / "mine"), "--decoder", "weight-free",
            "--out", str(tmp_path / "recon"), "--batch-size", "1"]


@pytest.mark.parametrize("command", ["fit", "extract-features", "decode"])
@pytest.mark.slow  # starts subprocesses
def test_sigterm_ends_a_long_command_with_one_line_and_the_same_command_resumes(tmp_path, command):
    import os
    import signal

    write_coarse(tmp_path / "mine.h5")
    if command == "decode":
        assert CliRunner().invoke(main, _command(tmp_path, "fit")).exit_code == 0
    module, owner, name = SLOW[command]
    proc = subprocess.Popen([sys.executable, "-c", CHILD, module, owner or "-", name, *_command(tmp_path, command)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})
    while not proc.stdout.readline().strip().endswith("written"):  # the command's own lines come first
        assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"{command} interrupted by SIGTERM: what it finished is kept") and \
        "the same command resumes it: ridge-decode " + command in last, err
    assert "Traceback" not in err and not list(tmp_path.rglob("*.lock")), err  # the lock is released
    again = CliRunner().invoke(main, _command(tmp_path, command))
    assert again.exit_code == 0, again.output
    if command == "fit":
        runs = json.loads((tmp_path / "out" / "mine" / "summary.json").read_text())["runs"]
        assert len(runs) == 2 and runs[1]["chunks_done_before"] >= 1  # resumed, not started over


def test_a_requeued_slurm_task_takes_over_its_own_lock_on_another_node(tmp_path, monkeypatch):
    write_coarse(tmp_path / "mine.h5")
    (tmp_path / "out").mkdir()
    lock = tmp_path / "out" / ".mine.lock"
    held = {"host": "node-a-that-is-gone", "pid": 4242, "run_id": "x", "started": "earlier", "command": "fit",
            "slurm_task": "777_3"}
    lock.write_text(json.dumps(held))
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "778")  # another job: its lock is not ours
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    res = CliRunner().invoke(main, ["fit", "--input", str(tmp_path / "mine.h5"), "--out", str(tmp_path / "out"),
                                    *FIT])
    assert res.exit_code == 1 and "is in use by pid 4242 on node-a-that-is-gone" in res.output
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "777")  # the same array task, requeued on this node
    res = CliRunner().invoke(main, ["fit", "--input", str(tmp_path / "mine.h5"), "--out", str(tmp_path / "out"),
                                    *FIT])
    assert res.exit_code == 0 and "it is this SLURM task (777_3), requeued" in res.output, res.output
    assert not lock.exists() and (tmp_path / "out" / "mine" / "model.h5").exists()


# ------------------------------------------------------------------------ every image has its fingerprint
def test_a_changed_image_of_an_input_file_is_named_instead_of_reusing_its_old_features(tmp_path):
    assert _fit(tmp_path).exit_code == 0
    with h5py.File(tmp_path / "mine_features" / "pixels.h5") as f:
        hashes, cached = f["image_hashes"][()], f["ids"][()]
    assert (hashes != 0).all() and len(np.unique(hashes)) == len(hashes)  # one fingerprint per image, all recorded
    with h5py.File(tmp_path / "mine.h5", "a") as f:  # one image edited in place, everything else as it was
        changed = int(f["image_ids"][40])
        f["images"][40] = 255 - f["images"][40]
    res = _fit(tmp_path)
    assert res.exit_code == 1 and f"ids [{changed}] (1 in all) are not the images they were extracted from" in \
        res.output, res.output
    assert "Extract pixels again" in res.output and changed in cached


# ----------------------------------------------------------------------------------------- permissions
@pytest.mark.slow  # starts subprocesses
def test_an_unreadable_weights_folder_is_permission_denied_with_its_path(tmp_path, tiny_weights):
    """Run as root without the capabilities that let root read anything (so that permissions apply as to any
    user): an unreadable sub-folder of the weights is named, not reported as a missing config.json."""
    import os
    import shutil

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    weights = tmp_path / "w"
    shutil.copytree(tiny_weights, weights)
    data = write_coarse(tmp_path / "mine.h5")
    vae = next(weights.glob("stable-diffusion-v1-5*/vae"))
    vae.chmod(0)
    try:
        res = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                              "ridge_decode.cli", "extract-features", "--input", str(data), "--families", "autokl",
                              "--weights-root", str(weights), "--features-dir", str(tmp_path / "f")],
                             capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})
    finally:
        vae.chmod(0o755)
    if "Operation not permitted" in res.stderr and "setpriv" in res.stderr:
        pytest.skip("this machine does not let setpriv drop capabilities")
    line = res.stderr.strip().splitlines()[-1]
    assert res.returncode == 1 and f"{vae}: permission denied" in line and "chmod" in line, res.stderr
    assert "config.json" not in line and "bug" not in line
