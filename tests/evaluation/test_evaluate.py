import json

import numpy as np
import pytest
from click.testing import CliRunner
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from ridge_decode.cli import main
from ridge_decode.evaluation import image_metrics as ev
from ridge_decode.evaluation import metrics, report
from ridge_decode.sources.nsd import open_stimuli, viewed_ids


@pytest.fixture(scope="module")
def stimuli(synthetic_root):
    return open_stimuli(synthetic_root).read(viewed_ids(synthetic_root)[:24])


def test_pixel_metrics_against_direct_computations(stimuli):
    rng = np.random.default_rng(0)
    recons = np.clip(stimuli.astype(int) + rng.integers(-60, 60, stimuli.shape), 0, 255).astype(np.uint8)
    pix = ev.pixcorr_per_image(recons, stimuli)
    np.testing.assert_allclose(pix, [np.corrcoef(r.ravel() / 255.0, s.ravel() / 255.0)[0, 1]
                                     for r, s in zip(recons, stimuli, strict=True)])
    ssim = ev.ssim_per_image(recons[:3], stimuli[:3])
    direct = [structural_similarity(rgb2gray(recons[k] / 255.0), rgb2gray(stimuli[k] / 255.0), gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False, data_range=1.0) for k in range(3)]
    np.testing.assert_allclose(ssim, direct)
    t, r = rng.standard_normal((9, 20)), rng.standard_normal((9, 20))
    np.testing.assert_allclose(ev.correlation_distance(r, t), [1 - np.corrcoef(t[k], r[k])[0, 1] for k in range(9)])
    per = metrics.identification_per_image(r, t)  # (pred, true), as every metric
    c = np.corrcoef(t, r)[:9, 9:]
    brute = [np.mean([c[i, j] < c[j, j] for i in range(9) if i != j]) for j in range(9)]
    np.testing.assert_allclose(per, brute)


def test_perfect_shuffled_and_unavailable(stimuli, tiny_all_weights, tmp_path):
    stimuli = stimuli[:8]  # full-size random networks on 2 CPU cores: a few images keep this short
    perfect, per_image = ev.image_metrics(stimuli, stimuli, tiny_all_weights, progress=False)
    assert perfect["pixcorr"] == pytest.approx(1.0) and perfect["ssim"] == pytest.approx(1.0)
    for m in ("alexnet2", "alexnet5", "inception", "clip"):
        assert perfect[m] == 1.0
    for m in ("effnet_b", "swav"):
        assert perfect[m] == pytest.approx(0.0, abs=1e-6)
    assert set(per_image) == set(ev.metric_names()) and all(len(v) == len(stimuli) for v in per_image.values())
    shuffled, _ = ev.image_metrics(stimuli[np.roll(np.arange(len(stimuli)), 3)], stimuli, tiny_all_weights,
                                   convention="braindiffuser", progress=False)
    assert 0.35 < np.mean([shuffled[m] for m in ("alexnet2", "alexnet5", "inception", "clip")]) < 0.65  # chance 0.5
    missing, _ = ev.image_metrics(stimuli[:4], stimuli[:4], tmp_path / "no_weights", progress=False)
    assert isinstance(missing["pixcorr"], float)
    assert "alexnet" in missing["alexnet2"]["unavailable"] and "unavailable" in missing["swav"]
    with pytest.raises(ValueError, match="convention"):
        ev.image_metrics(stimuli, stimuli, tmp_path, convention="other")
    weight_free, _ = ev.image_metrics(stimuli[:4], stimuli[:4][::-1], progress=False)  # no weights_root: no networks
    assert set(weight_free) == {"pixcorr", "ssim"} and weight_free["pixcorr"] < 1.0


def test_embedding_scores():
    rng = np.random.default_rng(2)
    true = rng.standard_normal((30, 4, 5))
    good = ev.embedding_scores(true + 0.1 * rng.standard_normal(true.shape), true)
    assert good["retrieval_top1"] == 1.0 and good["two_way"] == 1.0 and good["mean_r"] > 0.9
    bad = ev.embedding_scores(rng.standard_normal(true.shape), true)
    assert bad["retrieval_top1"] < 0.3 and abs(bad["two_way"] - 0.5) < 0.15


def test_report_and_aggregate():
    a = {"metrics": {m: 0.5 for m in ev.metric_names()}, "subject": 1}
    b = {"metrics": {**{m: 0.7 for m in ev.metric_names()}, "swav": {"unavailable": "x"}}, "subject": 2}
    mean = report.aggregate([a, b])
    assert mean["pixcorr"] == pytest.approx(0.6) and "unavailable" in mean["swav"]
    text = report.report({"ours": mean}, "t")
    assert "| **ours** | 0.600 | 0.600 | 60.0% |" in text and "MindEye2, 40 sessions (2024)" in text and "n/a" in text
    # every published row names its source and how far it was checked, in the report that prints it
    for row in report.PUBLISHED.values():
        assert row.paper and row.table and row.check and set(row.values) <= set(ev.REGISTRY)
        assert f"- {row.name}: {row.paper}, {row.table} (check: {row.check})." in text


def test_evaluate_cli(synthetic_copy, tiny_all_weights, tmp_path):
    runner = CliRunner()
    base = ["--data-root", str(synthetic_copy)]
    assert runner.invoke(main, ["extract-features", *base]).exit_code == 0
    assert runner.invoke(main, ["fit", *base, "--out", str(tmp_path / "outputs")]).exit_code == 0
    model_dir = tmp_path / "outputs" / "subj01"
    recon = tmp_path / "recon"
    res = runner.invoke(main, ["decode", *base, "--model-dir", str(model_dir), "--decoder", "weight-free",
                               "--out", str(recon), "--n-images", "6"])
    assert res.exit_code == 0, res.output
    args = ["evaluate", *base, "--recon-dir", str(recon), "--weights-root", str(tiny_all_weights)]
    res = runner.invoke(main, [*args, "--out", str(tmp_path / "eval1")])
    assert res.exit_code != 0 and "lacks reconstructions of 44 test images" in res.output
    res = runner.invoke(main, [*args, "--partial", "--model-dir", str(model_dir), "--out", str(tmp_path / "e1")])
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "e1" / "metrics.json").read_text())
    assert set(result["metrics"]) == set(ev.metric_names()) and result["n_images"] == 6
    assert result["decoder"] == "weight-free" and result["convention"] == "mindeye"
    assert result["metrics"]["pixcorr"] > 0.3 and result["embedding"]["pixels"]["two_way"] > 0.8
    assert "ridge -> 16 IP-Adapter-Plus tokens" in (tmp_path / "e1" / "report.md").read_text()
    assert (tmp_path / "e1" / "best_median_worst.png").exists()
    res = runner.invoke(main, [*args, "--partial", "--model-dir", str(model_dir), "--device", "cpu", "--out",
                               str(tmp_path / "e3")])
    assert res.exit_code == 0, res.output  # the networks on the device asked for: the same scores on the CPU
    assert json.loads((tmp_path / "e3" / "metrics.json").read_text())["metrics"] == result["metrics"]
    res = runner.invoke(main, [*args, "--partial", "--convention", "braindiffuser", "--out", str(tmp_path / "e2")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["evaluate", "--aggregate", str(tmp_path / "e1"), str(tmp_path / "e2"),
                               "--out", str(tmp_path / "mean")])
    assert res.exit_code == 0, res.output
    mean = json.loads((tmp_path / "mean" / "metrics.json").read_text())
    assert mean["metrics"]["pixcorr"] == pytest.approx(result["metrics"]["pixcorr"])


def test_a_metric_added_to_the_registry_is_computed_written_reported_and_offered(synthetic_copy, tmp_path,
                                                                                  monkeypatch):
    """A toy metric (mean absolute pixel difference, lower is better), registered and nothing else edited: it is
    one of evaluate's --rank-by choices, in metrics.json and per_image.json, and a column of report.md."""
    toy = ev.Metric("toy_mad", "ToyMAD", higher_is_better=False,
                    per_image=lambda r, s: np.abs(r.astype(float) - s.astype(float)).mean((1, 2, 3)))
    monkeypatch.setitem(ev.REGISTRY, toy.name, toy)  # what ev.register does, undone after the test
    runner = CliRunner()
    base = ["--data-root", str(synthetic_copy)]
    assert runner.invoke(main, ["fit", *base, "--out", str(tmp_path / "o")]).exit_code == 0
    res = runner.invoke(main, ["decode", *base, "--model-dir", str(tmp_path / "o" / "subj01"), "--decoder",
                               "weight-free", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["evaluate", *base, "--recon-dir", str(tmp_path / "r"), "--out", str(tmp_path / "e"),
                               "--weights-root", str(tmp_path / "none"), "--rank-by", "toy_mad"])
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "e" / "metrics.json").read_text())
    per_image = json.loads((tmp_path / "e" / "per_image.json").read_text())
    stimuli = open_stimuli(synthetic_copy).read(per_image["ids"])
    from ridge_decode.runtime.layout import load_png, recon_name

    recons = np.stack([load_png(tmp_path / "r" / recon_name(i)) for i in per_image["ids"]])
    expected = np.abs(recons.astype(float) - stimuli.astype(float)).mean()
    assert result["metrics"]["toy_mad"] == pytest.approx(expected)  # an independent computation of the toy
    assert len(per_image["toy_mad"]) == len(per_image["ids"])
    report = (tmp_path / "e" / "report.md").read_text()
    assert report.splitlines()[2].endswith("| SwAV | ToyMAD |")
    assert "except EffNet-B, SwAV, ToyMAD" in report and "| - |" in report  # published rows lack it: '-'
    assert toy.format(0.5) == "0.500"
    assert (tmp_path / "e" / "best_median_worst.png").exists()
    assert "toy_mad" in ev.REGISTRY.keys()


def test_published_rows_print_with_their_signs_and_formats():
    text = report.report({}, "t")
    row = next(line for line in text.splitlines() if line.startswith("| MindEye2, 40 sessions (2024) |"))
    assert row.split(" | ")[1:] == ["0.322", "0.431", "96.1%", "98.6%", "95.4%", "93.0%", "0.619", "0.344 |"]
    assert "| MindEye2, low-level module alone (2024) | 0.399 |" in text
    assert "| Brain-Diffuser, recomputed by MindEye2 | 0.273 |" in text
    assert "not checked against the paper" in text  # MindEye and BrainGuard say so
    assert "These rows are not of NSD" in report.report({}, "t", not_nsd="a synthetic subject")
