"""The SLURM plan without a scheduler: the dry run, the generated scripts, what a failing task prints, and
examples/slurm/ generated from the same code (tests/chain/test_slurm.py runs the chain on a real one-node SLURM)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ridge_decode.chain.cluster import Job, script, write_examples
from ridge_decode.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_dry_run_prints_the_graph_and_submits_nothing(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-sbatch-here"))  # an sbatch call would fail: none is made
    res = CliRunner().invoke(main, ["slurm", "--data-root", str(synthetic_root), "--subjects", "1,2", "--dry-run",
                                    "--device", "cuda", "--run-dir", "run"])
    assert res.exit_code == 0, res.output
    names = ["extract", "merge", "fit", "decode-s01", "evaluate-s01", "decode-s02", "evaluate-s02", "aggregate"]
    plan = json.loads((tmp_path / "run" / "plan.json").read_text())
    assert [j["name"] for j in plan["jobs"]] == names and plan["dry_run"]
    by = {j["name"]: j for j in plan["jobs"]}
    assert by["aggregate"]["after"] == ["evaluate-s01", "evaluate-s02"] and by["fit"]["array"] == [1, 2]
    assert "--dependency=afterok:<evaluate-s01>:<evaluate-s02>" in by["aggregate"]["sbatch"]
    assert "--gres=gpu:1" in by["extract"]["sbatch"] and "--gres=gpu:1" not in by["fit"]["sbatch"]
    for n in names:  # the graph, and one script per job
        assert n in res.output and (tmp_path / "run" / "jobs" / f"{n}.sbatch").exists()
    assert (tmp_path / "run" / "logs").is_dir()


@pytest.mark.slow  # starts subprocesses
def test_a_failing_task_names_itself_in_its_log(tmp_path):
    job = Job("fit", ["fit", "--subject", "{task}", "--data-root", str(tmp_path / "none")], [0])
    path = tmp_path / "fit.sbatch"
    path.write_text(script(job))
    env = {**os.environ, "RD_PYTHON": sys.executable, "SLURM_ARRAY_TASK_ID": "0", "SLURM_JOB_NAME": "rd-fit",
           "SLURM_JOB_ID": "42"}
    res = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2 and "--subject" in res.stderr  # --subject 0: the usage error of the command
    assert "ridge_decode slurm: job rd-fit task 0 (job 42) failed with exit 2" in res.stderr


def test_examples_are_generated_from_the_plan(tmp_path):
    """examples/slurm/ is the generated form, never edited by hand: regenerating it changes nothing."""
    written = {p.name: p.read_text() for p in write_examples(tmp_path)}
    committed = {p.name: p.read_text() for p in (REPO / "examples" / "slurm").glob("*.sbatch")}
    assert written == committed, "run: python -c 'from ridge_decode.chain.cluster import write_examples; " \
                                 "write_examples(\"examples/slurm\")'"
    assert '--device "${RIDGE_DECODE_DEVICE:-cuda}"' in written["extract.sbatch"]
