"""One word per concept (issue #45): each stage returns its own result dataclass, and every name renamed in 0.2.0
(a flag, a keyword, a request field, a function) still works for one minor release with a warning that names the
new form, giving the same result as the new form."""

import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from ridge_decode.cli import main
from ridge_decode.evaluation import image_metrics as ev
from ridge_decode.features import FeatureStore
from ridge_decode.pipeline import (
    EvaluateResult,
    FitRequest,
    PredictRequest,
    PredictResult,
    TransferRequest,
    TransferResult,
    embedding_scores,
    fit_embedding_scores,
    parse_families,
    parse_groups,
    predict_subject,
)
from ridge_decode.pipeline.maps import MapsResult, brain_maps
from ridge_decode.sources import NSDSource

DEPRECATED = r"is deprecated since 0\.2\.0 and will be removed in 0\.3\.0: use "


def _fit(root: Path, out: Path, *flags: str) -> CliRunner:
    res = CliRunner().invoke(main, ["fit", "--subject", "1", "--data-root", str(root), "--out", str(out),
                                    "--alphas", "0:6:7", *flags])
    assert res.exit_code == 0, res.output
    return res


def _predictions(folder: Path) -> np.ndarray:
    with h5py.File(folder / "predictions.h5", "r") as f:
        return f["pred/pixels"][()]


# ------------------------------------------------------------------------------------------- command line
def test_fit_old_flags_warn_and_fit_the_same_model(synthetic_copy, tmp_path):
    """``--targets`` and ``--backend`` (before 0.2.0) are ``--families`` and ``--device``: one deprecation line
    each, naming the new flag, and the same fit."""
    new = _fit(synthetic_copy, tmp_path / "new", "--families", "pixels", "--device", "cpu")
    assert "deprecated" not in new.output
    old = _fit(synthetic_copy, tmp_path / "old", "--targets", "pixels", "--backend", "numpy")
    assert "--targets is deprecated since 0.2.0 and will be removed in 0.3.0: use --families" in old.output
    assert "--backend is deprecated since 0.2.0 and will be removed in 0.3.0: use --device" in old.output
    a = json.loads((tmp_path / "new" / "subj01" / "summary.json").read_text())
    b = json.loads((tmp_path / "old" / "subj01" / "summary.json").read_text())
    assert a["config"]["families"] == b["config"]["families"] == ["pixels"]
    assert a["config"]["device"] == "cpu" and b["config"]["device"] == "numpy"  # cpu *is* numpy: same maths
    assert "targets" not in a["config"] and "backend" not in a["config"]
    np.testing.assert_array_equal(_predictions(tmp_path / "new" / "subj01"), _predictions(tmp_path / "old" / "subj01"))
    assert a["groups"]["pixels"]["mean_r"] == b["groups"]["pixels"]["mean_r"]


@pytest.mark.parametrize("args", [["fit", "--targets", "pixels", "--families", "pixels"],
                                  ["fit", "--backend", "numpy", "--device", "cpu"],
                                  ["extract-features", "--features", "pixels", "--families", "pixels"]])
def test_an_old_flag_with_its_new_name_is_a_usage_error(args, tmp_path):
    res = CliRunner().invoke(main, [*args, "--data-root", str(tmp_path)])
    old, new = args[1], args[3]
    assert res.exit_code == 2 and f"{old} is the old name of {new}: give {new} only" in res.output, res.output


@pytest.mark.parametrize("command, old, new, rest", [
    ("extract-features", "--features", "--families", ["nosuch"]),
    ("maps", "--targets", "--families", ["nosuch", "--input", "missing.h5"]),
    ("transfer", "--targets", "--families", ["pixels", "--data-root", "missing", "--reference-dir", "missing"]),
])
def test_old_family_flags_warn_and_do_what_the_new_one_does(command, old, new, rest, tmp_path, monkeypatch):
    """The same command line with the old flag does exactly what it does with the new one (here: the same error),
    after one line naming the new flag."""
    monkeypatch.chdir(tmp_path)
    with_new = CliRunner().invoke(main, [command, new, *rest])
    with_old = CliRunner().invoke(main, [command, old, *rest])
    line = f"{old} is deprecated since 0.2.0 and will be removed in 0.3.0: use {new}\n"
    assert with_old.output.startswith(line), with_old.output
    assert with_old.output[len(line):] == with_new.output and with_old.exit_code == with_new.exit_code != 0


@pytest.mark.parametrize("command, old, new, extra", [
    ("reproduce", "--targets", "--families", ["--no-fetch", "--dry-run", "--data-root", "data/synthetic"]),
    ("slurm", "--targets", "--fit-families", ["--dry-run", "--families", "pixels,autokl", "--run-dir", "run"]),
])
def test_chain_commands_old_flags_plan_the_same_chain(command, old, new, extra, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with_new = CliRunner().invoke(main, [command, new, "pixels,autokl", *extra])
    assert with_new.exit_code == 0, with_new.output
    plan_new = {p.name: p.read_text() for p in Path("run").glob("**/*.sbatch")}
    with_old = CliRunner().invoke(main, [command, old, "pixels,autokl", *extra])
    assert with_old.exit_code == 0, with_old.output
    line = f"{old} is deprecated since 0.2.0 and will be removed in 0.3.0: use {new}\n"
    assert with_old.output.startswith(line)
    assert with_old.output[len(line):] == with_new.output
    assert {p.name: p.read_text() for p in Path("run").glob("**/*.sbatch")} == plan_new
    assert "fit --subject" in with_new.output + "".join(plan_new.values())  # the fit step: with the new flag
    assert "--families pixels,autokl" in with_new.output + "".join(plan_new.values())


# ------------------------------------------------------------------------------------------- Python names
def test_request_fields_renamed_in_0_2_0_warn_and_fill_the_new_field():
    from ridge_decode.chain import ChainRequest
    from ridge_decode.chain.cluster import SlurmRequest
    from ridge_decode.chain.local import recipe_request

    source = NSDSource("nowhere", 1)
    with pytest.warns(FutureWarning, match=r"FitRequest\(targets=\.\.\.\) " + DEPRECATED + r"FitRequest\(families"):
        old = FitRequest(source, targets=["autokl"])
    assert (old.families, old.targets) == (["autokl"], None)
    with pytest.warns(FutureWarning, match=r"FitRequest\(backend=\.\.\.\) " + DEPRECATED + r"FitRequest\(device"):
        old = FitRequest(source, backend="torch")
    assert (old.device, old.backend) == ("torch", None)
    with pytest.warns(FutureWarning, match=r"TransferRequest\(targets=\.\.\.\) " + DEPRECATED):
        assert TransferRequest(source, source, targets=["autokl"]).families == ["autokl"]
    for cls in (ChainRequest, SlurmRequest):
        with pytest.warns(FutureWarning, match=rf"{cls.__name__}\(targets=\.\.\.\) " + DEPRECATED +
                          rf"{cls.__name__}\(fit_families"):
            old = cls(families=["pixels", "autokl"], targets=["autokl"])
        assert (old.families, old.fit_families) == (["pixels", "autokl"], ["autokl"])
    with pytest.warns(FutureWarning, match=r"recipe_request\(targets=\.\.\.\) " + DEPRECATED):
        old = recipe_request("data/synthetic", targets="pixels")
    assert old == recipe_request("data/synthetic", families="pixels")
    with pytest.warns(FutureWarning, match="parse_groups " + DEPRECATED + "ridge_decode.pipeline.parse_families"):
        assert parse_groups("a, b") == parse_families("a, b") == ["a", "b"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the new names never warn
        FitRequest(source, families=["pixels"], device="cpu")
        ChainRequest(families=["pixels"], fit_families=["pixels"])


def test_stages_return_their_result_and_the_old_tuple_still_unpacks(synthetic_copy, tmp_path):
    """predict and maps return their dataclass (what evaluate and transfer return is built the same way); the tuple
    of 0.1.0 unpacks to the same values, with a FutureWarning naming the attributes."""
    fit = tmp_path / "fit"
    _fit(synthetic_copy, fit, "--families", "pixels")
    source = NSDSource(synthetic_copy, 1)
    done = predict_subject(PredictRequest(source, fit / "subj01", out=tmp_path / "pred", progress=False,
                                          echo=lambda s: None))
    assert isinstance(done, PredictResult) and done.folder == tmp_path / "pred"
    assert done.summary == json.loads((done.folder / "summary.json").read_text())
    with pytest.warns(FutureWarning, match=r"unpacking a PredictResult as a tuple " + DEPRECATED + r"its attributes "
                                           r"\(\.summary, \.folder\)"):
        summary, folder = done
    assert (summary, folder) == (done.summary, done.folder)

    maps = brain_maps(source, ["pixels"], out=tmp_path / "maps", echo=lambda s: None)
    assert isinstance(maps, MapsResult) and (maps.folder / "maps.json").exists()
    assert maps.summary["run_id"] == json.loads((maps.folder / "maps.json").read_text())["run_id"]
    with pytest.warns(FutureWarning, match="MapsResult"):
        summary, folder = maps
    assert folder == maps.folder

    for result, names in ((EvaluateResult({"metrics": {}}, tmp_path), ("result", "folder")),
                          (TransferResult(tmp_path / "t.json", tmp_path / "t.png", {}), ("json_path", "figure"))):
        with pytest.warns(FutureWarning, match=type(result).__name__):
            assert tuple(result) == tuple(getattr(result, n) for n in names)


def test_fit_embedding_scores_is_the_evaluation_scores_per_family(synthetic_copy, tmp_path):
    """The one ``embedding_scores`` is ``evaluation.image_metrics``'s; the pipeline's, per family of a fit, is
    ``fit_embedding_scores`` (its old name warns and gives the same)."""
    fit = tmp_path / "fit"
    _fit(synthetic_copy, fit, "--families", "pixels")
    source = NSDSource(synthetic_copy, 1)
    store = FeatureStore(source.default_features_dir(), provenance=source.provenance())
    ids = source.data(progress=False).test_ids[:20]
    scores = fit_embedding_scores(fit / "subj01", store, ids, source)
    with h5py.File(fit / "subj01" / "predictions.h5", "r") as f:
        all_ids = list(f["ids"][()])
    pred = _predictions(fit / "subj01")[[all_ids.index(i) for i in ids]]
    expected = ev.embedding_scores(pred, store.read("pixels", ids))
    assert scores["pixels"] == pytest.approx(expected)
    with pytest.warns(FutureWarning, match="ridge_decode.pipeline.embedding_scores " + DEPRECATED +
                      "ridge_decode.pipeline.fit_embedding_scores"):
        assert embedding_scores(fit / "subj01", store, ids, source)["pixels"] == pytest.approx(expected)
