import json

from click.testing import CliRunner

from ridge_decode.cli import main


def test_recipe_runs_on_the_synthetic_root_and_skips_finished_steps(synthetic_copy, tmp_path):
    # No weights at all: pixels and the weight-free decoder need none, and the network metrics are then reported
    # as unavailable (the networks themselves are tested in test_evaluate.py); this test is about the chaining.
    args = ["reproduce", "--data-root", str(synthetic_copy), "--weights-root", str(tmp_path / "no_weights"),
            "--subjects", "1,2", "--families", "pixels", "--decoder", "weight-free", "--device", "cpu", "--no-fetch",
            "--out", str(tmp_path / "outputs"), "--recon", str(tmp_path / "recon"),
            "--eval-dir", str(tmp_path / "eval")]
    runner = CliRunner()
    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "[to run]" in dry.output
    assert "python -m ridge_decode.cli fit --subject 2" in dry.output
    assert not (tmp_path / "outputs").exists()  # a dry run runs nothing
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    mean = json.loads((tmp_path / "eval" / "mean" / "metrics.json").read_text())
    assert mean["labels"] == ["subj01", "subj02"] and mean["metrics"]["pixcorr"] > 0.3
    assert "unavailable" in mean["metrics"]["swav"]
    report = (tmp_path / "eval" / "mean" / "report.md").read_text()
    assert "ridge_decode (synthetic, mean of subj01, subj02)" in report and "These rows are not of NSD" in report
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and again.output.count("already done, skipped") == 8  # all but the two checks
    nsd = runner.invoke(main, ["reproduce", "--data-root", str(tmp_path / "nsd"), "--dry-run"])
    assert "estimate from FLOPs" in nsd.output and "fetch-nsd --subject 7" in nsd.output
