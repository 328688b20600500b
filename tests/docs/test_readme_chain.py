"""The README's Python chain runs exactly as written, and the package's public names are what it says."""

import os
import re
from pathlib import Path

import numpy as np

import ridge_decode

REPO = Path(__file__).resolve().parents[2]


def _chain() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_chain_is_at_most_15_lines_and_runs_as_written(tmp_path, capsys):
    code = _chain()
    lines = [line for line in code.splitlines() if line.strip()]
    assert len(lines) <= 15, len(lines)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        namespace = {}
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the documented lines, as written
    finally:
        os.chdir(cwd)
    scores = eval(capsys.readouterr().out.strip().splitlines()[-1])  # noqa: S307 - the dict the chain printed
    assert set(scores) == {"pixcorr", "ssim"} and scores["pixcorr"] > 0.05  # above chance on held-out images
    assert namespace["images"].shape == namespace["seen"].shape and namespace["images"].dtype == np.uint8
    assert (tmp_path / "reconstructions.png").stat().st_size > 10_000


def test_the_public_names_are_declared_and_import():
    assert "OneStageRidge" in dir(ridge_decode) and "simulate" in ridge_decode.__all__
    for name in ridge_decode.__all__:
        assert getattr(ridge_decode, name) is not None, name
    assert callable(ridge_decode.simulate)  # the function, not the subpackage that writes the subject
    assert len(ridge_decode.__all__) <= 30  # a small API
