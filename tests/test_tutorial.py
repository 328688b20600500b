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
    assert sections == [str(k) for k in range(1, 10)]
    assert "simulated" in text.split("## 2.")[0]  # it says first what the subject is
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(figures) == 5 and all((tmp_path / "docs" / f).stat().st_size > 5_000 for f in figures)
    assert "chance" in text and "noise ceiling" in text and "effective degrees of freedom" in text
    # each step shows the code that ran: the blocks are this file's own lines
    source = (REPO / "examples" / "tutorial.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 7 and all(line.strip() in source for b in blocks for line in b.splitlines())
    # one PixCorr per meaning: the thumbnails' is named so, and the published row stands apart, from the table
    assert "PixCorr at 32 px" in text
    assert tutorial.published() in text.split("## 9.")[1] and tutorial.published() not in text.split("## 9.")[0]
    assert "Same images in both splits: yes" in text  # the NIfTI source reads the subject as the NSD loader does
