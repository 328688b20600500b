"""Runs never mix, round three (data): NIfTI runs in their true order, one feature cache for every subject of a
root, NaN betas refused before any masker fills them in, one meaning of an image's values, a full disk as one line.
Each case is a correct result or one clear line."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from own_data import _dataset, write_hdf5, write_nifti
from test_macaque_v4 import COPY, mirror  # noqa: F401 (a fixture)

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


# ------------------------------------------------------------------------------- one cache, every subject
def _extract(root, subjects, features_dir=None):
    args = ["extract-features", "--data-root", str(root), "--subjects", subjects, "--families", "pixels"]
    res = CliRunner().invoke(main, args + (["--features-dir", str(features_dir)] if features_dir else []))
    assert res.exit_code == 0, res.output


def _cache(path):
    with h5py.File(path) as f:
        return f["ids"][()], f["features"][()], f["image_hashes"][()]


@pytest.mark.parametrize("order", ["1,2", "2,1"])
def test_one_subjects_extraction_adds_to_the_cache_of_another(synthetic_copy, tmp_path, order):
    from ridge_decode.sources.nsd import viewed_ids

    root = synthetic_copy
    for subject in order.split(","):
        _extract(root, subject)
    _extract(root, "1,2", tmp_path / "at_once")  # the independent computation: both subjects in one extraction
    ids, features, hashes = _cache(root / "features" / "pixels.h5")
    want = _cache(tmp_path / "at_once" / "pixels.h5")
    np.testing.assert_array_equal(ids, np.union1d(viewed_ids(root, [1]), viewed_ids(root, [2])))
    for got, expected in zip((ids, features, hashes), want, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert hashes.all()  # every image keeps its fingerprint
    res = CliRunner().invoke(main, ["fit", "--data-root", str(root), "--subject", "1", "--out", str(tmp_path / "o"),
                                    *FIT])
    assert res.exit_code == 0 and "changed" not in res.output, res.output
    before = (root / "features" / "pixels.h5").stat().st_mtime_ns
    _extract(root, "2")  # nothing lacking: the file is left as it is
    assert (root / "features" / "pixels.h5").stat().st_mtime_ns == before


def test_a_cache_lacking_ids_names_them_and_the_command_that_adds_them(synthetic_copy, tmp_path):
    from ridge_decode.errors import MissingFeaturesError
    from ridge_decode.features import FeatureStore
    from ridge_decode.sources.nsd import viewed_ids

    root = synthetic_copy
    only2 = viewed_ids(root, [2])
    store = FeatureStore(root / "features")
    store.write("mine", only2, np.random.default_rng(0).standard_normal((len(only2), 5)).astype(np.float32))
    lacking = np.setdiff1d(viewed_ids(root, [1]), only2)
    res = CliRunner().invoke(main, ["fit", "--data-root", str(root), "--subject", "1", "--families", "mine",
                                    "--out", str(tmp_path / "o"), *FIT])
    assert res.exit_code == 1 and "Traceback" not in res.output and "bug" not in res.output, res.output
    assert f"holds no features for {len(lacking)} of the images" in res.output and str(lacking[0]) in res.output
    assert "extract_features.py --families mine --data-root" in res.output and "--subjects 1" in res.output
    assert "--subject 1 " not in res.output and "--sessions" not in res.output and "changed" not in res.output
    # the fingerprint check meets ids the file lacks: they are named, never compared with another id's row
    _extract(root, "2")
    with pytest.raises(MissingFeaturesError, match=f"holds no features for {len(lacking)} of"):
        FeatureStore(root / "features").check_images("pixels", viewed_ids(root, [1]), lambda ids: None)


@pytest.mark.parametrize("targets, words", [("nosuch", ["--families nosuch: no such feature family", "pixels"]),
                                            ("", ["--families ''", "no name given"]),
                                            (" , ", ["--families ' , '", "no name given"])])
def test_targets_that_name_no_family_are_usage_errors(synthetic_root, tmp_path, targets, words):
    res = CliRunner().invoke(main, ["fit", "--data-root", str(synthetic_root), "--subject", "1", "--families", targets,
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and all(w in res.output for w in words), res.output
    assert "extract_features" not in res.output and "constant" not in res.output


# ------------------------------------------------------------------------------------ one meaning of an image
def _ssim_by_hand(recons, stimuli, scale):
    """SSIM as scikit-image computes it on grayscale images in [0, 1]: the independent computation."""
    from skimage.color import rgb2gray
    from skimage.metrics import structural_similarity

    return np.mean([structural_similarity(rgb2gray(r / scale), rgb2gray(s / scale), gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=1.0)
                    for r, s in zip(np.asarray(recons, np.float64), np.asarray(stimuli, np.float64), strict=True)])


def test_images_have_one_meaning_in_every_image_metric(synthetic_root):
    from ridge_decode import score_images
    from ridge_decode.errors import InputError
    from ridge_decode.evaluation import image_metrics as ev
    from ridge_decode.sources.nsd import open_stimuli, viewed_ids

    stimuli = open_stimuli(synthetic_root).read(viewed_ids(synthetic_root)[:6])
    rng = np.random.default_rng(0)
    recons = np.clip(stimuli.astype(int) + rng.integers(-40, 40, stimuli.shape), 0, 255).astype(np.uint8)
    as_uint8 = score_images(recons, stimuli)
    as_float = score_images(recons / 255.0, stimuli / np.float32(255))
    assert as_uint8["ssim"] == pytest.approx(_ssim_by_hand(recons, stimuli, 255.0), abs=1e-12)
    assert as_float["ssim"] == pytest.approx(_ssim_by_hand(recons / 255.0, stimuli / 255.0, 1.0), abs=1e-6)
    assert as_float["ssim"] == pytest.approx(as_uint8["ssim"], abs=1e-6) and 0.2 < as_uint8["ssim"] < 0.99
    pixcorr = np.mean([np.corrcoef(r.ravel(), s.ravel())[0, 1] for r, s in zip(recons, stimuli, strict=True)])
    assert as_uint8["pixcorr"] == pytest.approx(pixcorr) and as_float["pixcorr"] == pytest.approx(pixcorr)
    # a reconstruction of another size is resized in its own convention
    small = recons[:, ::2, ::2]
    assert score_images(small / 255.0, stimuli / 255.0)["ssim"] == pytest.approx(
        score_images(small, stimuli)["ssim"], abs=2e-3)
    cases = [((recons / 255.0, stimuli), "reconstructions are float images and the stimuli uint8"),
             ((recons, stimuli / 255.0), "reconstructions are uint8 images and the stimuli float"),
             ((recons.astype(np.float32), stimuli.astype(np.float32)), "found values from 0 to 255"),
             ((recons.astype(np.int64), stimuli.astype(np.int64)), "found dtype int64"),
             ((np.where(recons > 250, np.nan, recons / 255.0), stimuli / 255.0), "found values from nan")]
    for (r, s), words in cases:
        for metric in (score_images, ev.ssim_per_image, ev.pixcorr_per_image):
            with pytest.raises(InputError, match=words):
                metric(r, s)


# ------------------------------------------------------------------------------------------ a full disk
def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "ridge_decode.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def disk(tmp_path):
    """A small tmpfs (8 MB), for real processes to fill."""
    where = tmp_path / "disk"
    where.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(where)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or 'not root'}): the full-disk test needs one")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """A file taking all of ``disk``'s free space but ``leave`` bytes."""
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as f:
        f.write(b"\0" * max(free - leave, 0))
    return filler


def test_a_full_disk_is_one_line_in_every_command_and_the_same_command_then_works(disk, tmp_path):
    """Real processes (a crash of HDF5 on a full disk is a segfault, exit 139): fit, extract-features, maps, decode
    and evaluate, each on a disk with too little room, stop with one line (exit 1), then complete once there is
    room, with the same command."""
    from builders import write_coarse as _write

    path = _write(tmp_path / "mine.h5")
    fit = tmp_path / "fits"
    nifti = _flags(write_nifti(tmp_path / "lab", _dataset()))  # maps need a grid
    decoded = tmp_path / "recons"
    for argv in (["fit", "--input", path, "--out", fit, *FIT], ["fit", *nifti, "--out", fit, *FIT],
                 ["decode", "--input", path, "--model-dir", fit / "mine", "--decoder", "weight-free", "--out",
                  decoded]):  # the inputs, on a disk with room: in this process (the test is the processes below)
        res = CliRunner().invoke(main, [str(a) for a in argv])
        assert res.exit_code == 0, res.output
    commands = {
        "extract-features": ["--input", path, "--features-dir", disk / "features"],
        "fit": ["--input", path, "--out", disk / "fits", *FIT],
        "maps": [*nifti, "--model-dir", fit / "trials", "--out", disk / "maps"],
        "decode": ["--input", path, "--model-dir", fit / "mine", "--decoder", "weight-free", "--out", disk / "rec"],
        "evaluate": ["--input", path, "--recon-dir", decoded, "--out", disk / "eval"],
    }
    for command, args in commands.items():
        # too little for anything; room for HDF5's reserve (io.RESERVE_BYTES) but not for the command's files
        for leave in (4 << 10,) + ((5 << 20,) if command in ("fit", "extract-features") else ()):
            filler = _fill(disk, leave)
            res = _cli(command, *args)
            lines = res.stderr.strip().splitlines()
            assert res.returncode == 1, (command, leave, res.returncode, res.stderr[-2000:])
            assert "disk is full" in lines[-1] or "MB free" in lines[-1], (command, leave, res.stderr[-2000:])
            assert "Traceback" not in res.stderr and "bug" not in res.stderr, (command, res.stderr[-2000:])
            filler.unlink()
        res = _cli(command, *args)
        assert res.returncode == 0, (command, res.stderr[-2000:])


# ------------------------------------------------------------------------------- the user's input, named
def test_a_fifo_as_input_is_named_instead_of_waited_on(tmp_path):
    fifo = tmp_path / "mine.h5"
    os.mkfifo(fifo)
    res = _cli("fit", "--input", fifo, "--out", tmp_path / "o", timeout=120)  # it waited forever before
    assert res.returncode == 1 and f"{fifo} is a FIFO (named pipe), not a file" in res.stderr, res.stderr
    lab = tmp_path / "lab"
    options = write_nifti(lab, _dataset())
    os.rename(options["trials"], lab / "table.tsv")
    os.mkfifo(options["trials"])
    res = _cli("check-data", *_flags(options), timeout=120)
    assert res.returncode == 1 and "--trials" in res.stderr + res.stdout and "FIFO" in res.stderr + res.stdout


def test_a_truncated_image_is_found_by_check_data_and_named_by_every_reader(tmp_path):
    options = write_nifti(tmp_path / "lab", _dataset())
    victim = sorted(Path(options["images"]).iterdir())[5]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # the header (and its size) survive
    res = CliRunner().invoke(main, ["check-data", *_flags(options)])
    assert res.exit_code == 1 and "BAD" in res.output and str(victim) in res.output, res.output
    res = CliRunner().invoke(main, ["extract-features", *_flags(options)])
    assert res.exit_code == 1 and f"cannot read image {victim}" in res.output and "bug" not in res.output, res.output


def test_non_square_images_are_evaluated(tmp_path):
    from builders import coarse_data as _data

    d = _data()
    d["images"] = np.ascontiguousarray(d["images"][:, :, :24])  # 32 high, 24 wide
    path = tmp_path / "tall.h5"
    with h5py.File(path, "w") as f:
        for k, v in d.items():
            f[k] = v
    runner = CliRunner()
    assert runner.invoke(main, ["fit", "--input", str(path), "--out", str(tmp_path / "o"), *FIT]).exit_code == 0
    assert runner.invoke(main, ["decode", "--input", str(path), "--model-dir", str(tmp_path / "o" / "tall"),
                                "--decoder", "weight-free", "--out", str(tmp_path / "r")]).exit_code == 0
    res = runner.invoke(main, ["evaluate", "--input", str(path), "--recon-dir", str(tmp_path / "r"), "--out",
                               str(tmp_path / "e")])
    assert res.exit_code == 0 and "bug" not in res.output, res.output  # a broadcasting error before
    metrics = json.loads(next((tmp_path / "e").rglob("metrics.json")).read_text())
    assert 0.3 < metrics["metrics"]["pixcorr"] <= 1.0, metrics


@pytest.mark.skipif(not (COPY / "responses_201025.npy").exists(), reason=f"no copy of the macaque V4 data at {COPY}")
def test_a_read_only_hdf5_folder_is_one_line(tmp_path, mirror):  # noqa: F811 (the fixture)
    where = tmp_path / "ro"
    where.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(where)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here ({res.stderr.strip() or 'not root'})")
    try:
        res = CliRunner().invoke(main, ["fetch-macaque-v4", "--dest", str(tmp_path / "v4"), "--hdf5",
                                        str(where / "v4.h5")])
        out = res.output
        assert res.exit_code == 1 and "--hdf5" in out and "read-only file system" in out.lower(), out
        assert "bug" not in res.output
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
