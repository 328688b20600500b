"""Nothing lost, nothing mixed: a lock per output folder, one atomic commit, provenance on caches and models, and the
faults of a shared machine (a full disk, a read-only folder, no GPU, overflowing values) as one clear line."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from builders import FIT, digest, write_coarse
from click.testing import CliRunner

from ridge_decode.cli import main


# ------------------------------------------------------------------------------------------------ the lock
@pytest.mark.slow  # starts subprocesses
def test_two_fits_on_one_folder(tmp_path):
    """Started together on one folder (a SLURM array index typo): one stops at once with the lock's holder, the other
    completes, and its model equals a lone fit's."""
    path = write_coarse(tmp_path / "mine.h5")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}
    code = textwrap.dedent("""
        import sys, time
        from ridge_decode.ridge import model
        real = model.OneStageRidge.fit
        def slow(self, *a, **k):  # hold the folder long enough for the second fit to meet the lock
            time.sleep(float(sys.argv[1])); return real(self, *a, **k)
        model.OneStageRidge.fit = slow
        from ridge_decode.cli import main
        main(sys.argv[2:])
    """)
    args = ["fit", "--input", str(path), "--out", str(tmp_path / "out"), *FIT]
    first = subprocess.Popen([sys.executable, "-c", code, "6", *args], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    lock = tmp_path / "out" / ".mine.lock"
    for _ in range(600):
        if lock.exists() or first.poll() is not None:
            break
        __import__("time").sleep(0.05)
    second = subprocess.run([sys.executable, "-m", "ridge_decode.cli", *args], env=env, capture_output=True, text=True)
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out
    assert second.returncode == 1 and "is in use by pid" in second.stderr and "Traceback" not in second.stderr, \
        second.stderr
    assert f"pid {first.pid}" in second.stderr and "wait for it to finish" in second.stderr
    lone = tmp_path / "lone"
    assert CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(lone), *FIT]).exit_code == 0
    with h5py.File(tmp_path / "out" / "mine" / "model.h5") as a, h5py.File(lone / "mine" / "model.h5") as b:
        for key in ("X_mean", "X_scale", "Xs_train", "basis", "groups/pixels/coef", "groups/pixels/alphas"):
            np.testing.assert_array_equal(a[key][()], b[key][()], err_msg=key)
    assert not lock.exists()


@pytest.mark.slow  # starts subprocesses
def test_a_stale_lock_is_taken_over_and_said(tmp_path):
    path = write_coarse(tmp_path / "mine.h5")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "out").mkdir()
    lock = tmp_path / "out" / ".mine.lock"
    lock.write_text(json.dumps({"host": __import__("socket").gethostname(), "pid": int(dead.stdout),
                                "run_id": "x", "started": "earlier"}))
    res = CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "out"), *FIT])
    assert res.exit_code == 0 and f"took over the lock of {tmp_path / 'out' / 'mine'}" in res.output, res.output
    assert not lock.exists()


def test_a_lost_lock_stops_the_commit(tmp_path, monkeypatch):
    from ridge_decode.pipeline import fit as fit_stage
    from ridge_decode.runtime import runs

    path = write_coarse(tmp_path / "mine.h5")
    real = runs.commit

    def stolen(folder, lock, names):
        lock.path.write_text(json.dumps({"host": "elsewhere", "pid": 1, "run_id": "other"}))
        return real(folder, lock, names)

    monkeypatch.setattr(runs, "commit", stolen)
    monkeypatch.setattr(fit_stage, "commit", stolen)  # the fit stage imports commit at its top
    res = CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "out"), *FIT])
    assert res.exit_code == 1 and "was lost during this run" in res.output and "elsewhere" in res.output, res.output
    assert not (tmp_path / "out" / "mine").exists()


# ------------------------------------------------------------------------------------------ the atomic commit
def _two_runs(tmp_path):
    """A finished fit (grid of 7 alphas) and the arguments of a second, different one (3 alphas)."""
    path = write_coarse(tmp_path / "mine.h5")
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(out), *FIT]).exit_code == 0
    return out, ["fit", "--input", str(path), "--out", str(out), "--alphas", "-1:3:3"]


def _whole(folder: Path) -> int:
    """The folder holds one run, whole: every file of one run id; returns the size of its alpha grid."""
    summary = json.loads((folder / "summary.json").read_text())
    with h5py.File(folder / "predictions.h5") as f:
        assert f.attrs["run_id"] == summary["run_id"]
    # the files the summary lists, and the marker that says whose folder it is, of the same run
    assert sorted(p.name for p in folder.iterdir()) == sorted([".ridge_decode_run.json", "summary.json",
                                                               *summary["files"]])
    assert json.loads((folder / ".ridge_decode_run.json").read_text())["run_id"] == summary["run_id"]
    for name, size in summary["files"].items():
        assert (folder / name).stat().st_size == size
    with h5py.File(folder / "model.h5") as f:
        grid = len(f["alphas_grid"][()])
        assert f.attrs["run_id"] == summary["run_id"]
    from PIL import Image

    assert Image.open(folder / "fit_summary.png").text["ridge_decode run"] == summary["run_id"]
    assert grid == len(summary["config"]["alphas"])
    return grid


@pytest.mark.parametrize("kill_at", [1, 2, 3])
def test_a_kill_at_each_step_of_the_commit_leaves_one_whole_run(tmp_path, monkeypatch, kill_at):
    """The commit is three renames (staging -> generation, the exchange, the old generation away): a kill before
    any of them leaves the old run or the new one in the folder, whole, and the next run cleans up."""
    from ridge_decode.runtime import runs

    out, args = _two_runs(tmp_path)
    real, calls = runs._rename, []

    def killed(a, b):
        calls.append((a, b))
        if len(calls) == kill_at:
            raise KeyboardInterrupt("killed")
        return real(a, b)

    real_exchange = runs._exchange

    def exchange(a, b):
        calls.append((a, b))
        if len(calls) == kill_at:
            raise KeyboardInterrupt("killed")
        return real_exchange(a, b)

    monkeypatch.setattr(runs, "_rename", killed)
    monkeypatch.setattr(runs, "_exchange", exchange)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 130 and "interrupted by SIGINT" in res.output  # the interruption, one line
    monkeypatch.setattr(runs, "_rename", real)
    monkeypatch.setattr(runs, "_exchange", real_exchange)
    assert _whole(out / "mine") == (7 if kill_at <= 2 else 3)
    assert CliRunner().invoke(main, args).exit_code == 0  # the next run finishes and cleans up
    assert _whole(out / "mine") == 3 and sorted(p.name for p in out.iterdir()) == ["mine"]


def test_the_commit_without_an_exchange_is_repaired_by_the_next_run(tmp_path, monkeypatch):
    """Where renameat2 is missing, the commit is two renames; a kill between them leaves no folder for an instant,
    and the next run puts the old one back before it starts."""
    from ridge_decode.runtime import runs

    out, args = _two_runs(tmp_path)
    before = digest(out / "mine")
    monkeypatch.setattr(runs, "_exchange", lambda a, b: False)
    real, calls = runs._rename, []

    def killed(a, b):
        calls.append(1)
        if len(calls) == 3:  # staging -> generation, folder -> old, [killed] generation -> folder
            raise KeyboardInterrupt("killed")
        return real(a, b)

    monkeypatch.setattr(runs, "_rename", killed)
    assert CliRunner().invoke(main, args).exit_code == 130  # interrupted: one line, 128 + SIGINT
    monkeypatch.setattr(runs, "_rename", real)
    assert not (out / "mine").exists()
    runs.recover(out / "mine")
    assert digest(out / "mine") == before


# ------------------------------------------------------------------------------------------------ provenance
def test_a_cache_of_another_file_and_a_cross_source_decode_are_errors(tmp_path):
    good, other = write_coarse(tmp_path / "good.h5", seed=0), write_coarse(tmp_path / "other.h5", seed=1)
    runner, shared = CliRunner(), str(tmp_path / "shared")
    assert runner.invoke(main, ["extract-features", "--input", str(other), "--features-dir", shared]).exit_code == 0
    res = runner.invoke(main, ["fit", "--input", str(good), "--features-dir", shared, "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "was computed from the images of own-data file" in res.output, res.output
    assert str(other) in res.output and str(good) in res.output
    # by default each file has its own cache: both fit
    for path in (good, other):
        res = runner.invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "o"), *FIT])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "good_features").is_dir() and (tmp_path / "other_features").is_dir()
    res = runner.invoke(main, ["decode", "--input", str(good), "--model-dir", str(tmp_path / "o" / "other"),
                               "--decoder", "weight-free", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "holds predictions of own-data file" in res.output, res.output
    assert "label, images differ" in res.output and not (tmp_path / "r").exists()


def test_outputs_of_another_source_are_not_done_for_either_runner(synthetic_copy, tmp_path):
    """A synthetic pixels fit in outputs/subj01 is not NSD subject 1's fit of the recipe's targets, for reproduce and
    slurm alike; the subject's own fit of those targets is."""
    from ridge_decode.chain import in_order, nsd_chain
    from ridge_decode.chain.cluster import SlurmRequest, plan
    from ridge_decode.chain.local import recipe_request

    other = tmp_path / "other"
    __import__("shutil").copytree(synthetic_copy, other)
    (other / "synthetic.json").write_text((other / "synthetic.json").read_text().replace('"seed": 0', '"seed": 9'))
    out = tmp_path / "outputs"
    runner = CliRunner()
    res = runner.invoke(main, ["fit", "--data-root", str(other), "--out", str(out), *FIT])  # another root's subj01
    assert res.exit_code == 0, res.output

    def states():
        todo = {s.name for s, _ in in_order(nsd_chain(recipe_request(synthetic_copy, subjects=(1,), families="pixels",
                                                                     out=out, fetch=False)))}
        jobs = {j.name: j.done for j in plan(SlurmRequest(data_root=synthetic_copy, subjects=[1], out=out,
                                                          dry_run=True))}
        return "fit" not in todo, jobs["fit"]

    assert states() == (False, False)
    res = runner.invoke(main, ["fit", "--data-root", str(synthetic_copy), "--out", str(out), *FIT])
    assert res.exit_code == 0, res.output
    assert states() == (True, True)


# ------------------------------------------------------------------------------------------ machine faults
def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or 'not root'}): the disk-fault tests need one")


@pytest.fixture
def small_disk(tmp_path):
    where = tmp_path / "disk"
    _mount_tmpfs(where, "size=256k")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.slow  # starts subprocesses
def test_a_full_disk_is_a_message_and_leaves_nothing(small_disk, tmp_path):
    path = write_coarse(tmp_path / "mine.h5")
    res = CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(small_disk), *FIT])
    assert res.exit_code == 1 and "MB free" in res.output and "needs about" in res.output, res.output
    assert "Traceback" not in res.output and list(small_disk.iterdir()) == []
    # a disk that fills during the writes (a decode of many PNGs): the write error is the message
    (small_disk / "filler").write_bytes(b"0" * (256 * 1024 - 8192))
    assert CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "o"), *FIT]).exit_code == 0
    res = CliRunner().invoke(main, ["decode", "--input", str(path), "--model-dir", str(tmp_path / "o" / "mine"),
                                    "--decoder", "weight-free", "--out", str(small_disk / "r")])
    assert res.exit_code == 1 and "disk is full" in res.output and "Traceback" not in res.output, res.output


@pytest.mark.slow  # starts subprocesses
def test_a_read_only_folder_is_a_message(tmp_path):
    where = tmp_path / "ro"
    _mount_tmpfs(where, "size=1m,ro")
    try:
        path = write_coarse(tmp_path / "mine.h5")
        res = CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(where / "out"), *FIT])
        assert res.exit_code == 1 and "read-only file system" in res.output and "--out" in res.output, res.output
        assert "Traceback" not in res.output
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_no_gpu_is_a_message(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    path = write_coarse(tmp_path / "mine.h5")
    for device in ("cuda", "torch_cuda"):
        res = CliRunner().invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "o"), "--device",
                                        device])
        assert res.exit_code == 1 and f"--device {device}: no CUDA GPU" in res.output, res.output
    res = CliRunner().invoke(main, ["extract-features", "--input", str(path), "--device", "cuda"])
    assert res.exit_code == 1 and "--device cuda: no CUDA GPU" in res.output, res.output
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------------ values
def test_betas_near_float32s_limit_fit_as_the_same_betas_scaled_down(tmp_path):
    """Standardisation in float64: betas x 1e37 (finite float32) give the fit of the betas themselves."""
    runner = CliRunner()
    for name, scale in (("unit", 1.0), ("huge", 1e37)):
        path = write_coarse(tmp_path / f"{name}.h5", scale=scale)
        res = runner.invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "o"), *FIT])
        assert res.exit_code == 0, res.output
    a, b = (json.loads((tmp_path / "o" / n / "summary.json").read_text())["groups"]["pixels"] for n in ("unit", "huge"))
    assert a["alpha_quantiles"] == b["alpha_quantiles"] and abs(a["mean_r"] - b["mean_r"]) < 1e-4


def test_overflowing_betas_and_images_too_small_stop_in_validation(tmp_path):
    runner = CliRunner()
    path = write_coarse(tmp_path / "big.h5", scale=1e300, dtype=np.float64)
    res = runner.invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "overflow float32" in res.output and "NaN" not in res.output, res.output
    assert "train/betas" in res.output and list((tmp_path / "o").iterdir()) == []  # the lock made it, empty
    path = write_coarse(tmp_path / "tiny.h5", side=1)
    for command in (["fit"], ["extract-features"]):
        res = runner.invoke(main, [*command, "--input", str(path)])
        assert res.exit_code == 1 and "1 x 1 pixels" in res.output and "at least 11 x 11" in res.output, res.output
