"""Releases (issue 45 item 6): one version, a changelog entry for it, and a wheel that installs in a fresh
environment and runs the demo in an empty folder."""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import ridge_decode

REPO = Path(__file__).resolve().parents[2]


def test_one_version_and_its_changelog_entry():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ridge_decode.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", ridge_decode.__version__)
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"## Version {ridge_decode.__version__}\n" in changelog
    tags = set(re.findall(r"^- \*\*([A-Z][A-Za-z ]+)\*\*", changelog, re.M))
    assert tags <= {"Major Feature", "Feature", "Efficiency", "Enhancement", "Fix", "API Change"}, tags
    for old in ("cv_values_", 'alpha_per="all"', "fixed_alpha", "OneStageRidge(cv="):
        assert old in changelog


def _fresh_environment(tmp_path) -> Path:
    """A venv that sees this interpreter's installed dependencies but not its ridge_decode: their folder is named
    in a .pth file, and Python runs no .pth file found in a folder added that way (so neither the editable install's
    finder nor its path). Returns the venv's python."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    return python


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_environment_and_runs_the_demo(tmp_path, synthetic_copy):
    # build from a copy of the sources: setuptools writes build/ beside them
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "ridge_decode", src / "ridge_decode", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist)], check=True, env=_clean_env())
    wheel = next(dist.glob("ridge_decode-*.whl"))
    assert wheel.name == f"ridge_decode-{ridge_decode.__version__}-py3-none-any.whl"

    python = _fresh_environment(tmp_path)
    before = subprocess.run([str(python), "-c", "import ridge_decode"], capture_output=True, text=True,
                            env=_clean_env(), cwd=tmp_path)  # not the repository: "-c" puts the cwd on the path
    assert before.returncode != 0 and "No module named 'ridge_decode'" in before.stderr  # nothing leaks in
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, env=_clean_env())
    where = subprocess.run([str(python), "-c", "import ridge_decode; print(ridge_decode.__file__); "
                            "print(ridge_decode.__version__)"], check=True, capture_output=True, text=True,
                           env=_clean_env(), cwd=tmp_path).stdout.split()
    assert Path(where[0]).is_relative_to(tmp_path / "venv") and where[1] == ridge_decode.__version__

    # the demo in an empty folder, by the installed command; the tiny synthetic subject as its data, since
    # simulating the demo's own takes minutes (the command simulates only when --data-root lacks one)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**_clean_env(), "HOME": str(tmp_path / "home"), "MPLBACKEND": "Agg"}
    res = subprocess.run([str(python.parent / "ridge-decode"), "demo", "--data-root", str(synthetic_copy),
                          "--n-show", "4"], cwd=empty, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "two-way identification" in res.stdout
    assert (empty / "results" / "scores.json").is_file() and (empty / "results" / "reconstructions.png").is_file()
    version = subprocess.run([str(python.parent / "ridge-decode"), "--version"], capture_output=True, text=True,
                             env=env, cwd=empty)
    assert ridge_decode.__version__ in version.stdout
