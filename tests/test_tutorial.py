import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_reduced_tutorial_writes_every_section_and_figure(nsd_like_root, tmp_path):
    import shutil

    spec = importlib.util.spec_from_file_location("tutorial", REPO / "examples" / "tutorial.py")
    tutorial = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tutorial)
    data = tmp_path / "data"  # the session's tiny NSD-like pair, copied: the tutorial writes its feature cache there
    shutil.copytree(nsd_like_root, data, ignore=shutil.ignore_patterns("ridge_decode_cache", "features"))
    tutorial.main(["--size", "tiny", "--data-root", str(data), "--out", str(tmp_path / "docs")])
    text = (tmp_path / "docs" / "tutorial.md").read_text()
    sections = re.findall(r"^## (\d)\. ", text, flags=re.M)
    assert sections == [str(k) for k in range(1, 8)]
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(figures) == 5 and all((tmp_path / "docs" / f).stat().st_size > 5_000 for f in figures)
    assert "chance" in text and "noise ceiling" in text
    assert tutorial.published() in text  # the published row comes from the package's own table
