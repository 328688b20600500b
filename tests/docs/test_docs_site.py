"""The documentation site's sources: every public name is in the API reference, every page is in the site's
table of contents, and every gallery example is a script that runs top to bottom with its imports (the build itself,
`make docs`, runs them all: CI runs it)."""

import ast
import os
import re
from pathlib import Path

import numpy as np
import pytest

import ridge_decode

USER_DATA_HOME = os.environ.get("RIDGE_DECODE_DATA")  # before the fixtures isolate it: the site's build used it
REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
GALLERY = REPO / "examples" / "gallery"


def test_every_public_name_is_in_the_api_reference():
    listed = set(re.findall(r"^   (\w+)$", (DOCS / "api.rst").read_text(), re.M))
    assert listed == set(ridge_decode.__all__), set(ridge_decode.__all__) ^ listed


def test_every_page_is_in_the_sites_table_of_contents():
    index = (DOCS / "index.md").read_text()
    pages = {p.stem for p in DOCS.glob("*.md") if p.stem != "index"} | {"api"}
    entries = set(re.findall(r"^([\w/]+)$", index, re.M))
    assert pages <= entries, pages - entries


def test_gallery_examples_are_scripts_with_a_title_sections_and_folded_answers():
    examples = sorted(GALLERY.glob("plot_*.py"))
    assert len(examples) >= 3
    for path in examples:
        text = path.read_text()
        tree = ast.parse(text)
        doc = ast.get_docstring(tree)
        assert doc and re.match(r".+\n=+\n", doc), path.name  # a title sphinx-gallery reads
        assert "import ridge_decode as rd" in text, path.name  # its imports are shown, not hidden
        assert "# Exercises" in text and text.count("<details>") == text.count("</details>") >= 1, path.name


# ---------------------------------------------------------------------------------------- the gallery (issue 44)
def _docs_module(name: str):
    """A module of docs/ (``_gallery``, ``check_site``), imported from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.site  # needs the docs extra (sphinx-gallery), installed by make docs
def test_the_gallery_runs_in_file_name_order_and_an_eleventh_example_comes_last(tmp_path):
    from sphinx_gallery.sorting import FileNameSortKey

    conf = (DOCS / "conf.py").read_text()
    assert '"within_subsection_order": "sphinx_gallery.sorting.FileNameSortKey"' in conf
    names = sorted({p.name for p in GALLERY.glob("plot_*.py")} | {"plot_11_real_fmri_kay2008.py"})
    for name in names:
        (tmp_path / name).write_text("x = 1\n" * (50 - int(name[5:7])))  # the default order would reverse them
    ordered = sorted(names, key=FileNameSortKey(str(tmp_path)))
    assert [int(n[5:7]) for n in ordered] == list(range(1, len(names) + 1)), ordered


def test_examples_import_only_the_public_names():
    public = set(ridge_decode.__all__)
    for path in sorted(GALLERY.glob("plot_*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ridge_decode"):
                assert node.module == "ridge_decode" and {a.name for a in node.names} <= public, \
                    (path.name, node.module, [a.name for a in node.names])
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("ridge_decode"):
                        assert alias.name == "ridge_decode", (path.name, alias.name)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "rd":
                assert node.attr in public, (path.name, f"rd.{node.attr}")


@pytest.mark.site  # needs the docs extra (sphinx-gallery), installed by make docs
def test_the_folded_answers_reach_the_notebooks_as_html_not_rst():
    gallery = _docs_module("_gallery")
    text = ("Exercises\n\n.. raw:: html\n\n   <details><summary>Answer</summary>\n\nIt is 3.\n\n"
            ".. raw:: html\n\n   </details>\n")
    assert gallery.raw_html_to_markdown(text) == ("Exercises\n\n<details><summary>Answer</summary>\n\nIt is 3.\n\n"
                                                  "</details>\n")
    from sphinx_gallery.py_source_parser import split_code_and_text_blocks

    for path in sorted(GALLERY.glob("plot_*.py")):
        blocks = split_code_and_text_blocks(str(path))[1]
        converted = "".join(gallery.raw_html_to_markdown(b.content) for b in blocks if b.type == "text")
        assert ".. raw::" not in converted and converted.count("<details>") >= 1, path.name
    gallery.patch_notebook_writer()
    from sphinx_gallery import notebook

    md = notebook.rst2md(text, {"rst_link_targets": {}}, ".", {(None, "="): 1})
    assert ".. raw::" not in md and "<details><summary>Answer</summary>" in md


@pytest.mark.site  # needs the docs extra (sphinx-gallery), installed by make docs
def test_the_scraper_draws_the_package_figures_once_and_leaves_pyplots_to_the_default(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gallery = _docs_module("_gallery")
    package = ridge_decode.plot_transfer([{"method": "transfer", "n_train": 10, "mean_r": 0.2, "seconds": 1.0}])
    pyplot = plt.figure()
    paths = iter(tmp_path / f"image_{k}.png" for k in range(10))
    block_vars = {"src_file": str(tmp_path / "plot_x.py"), "image_path_iterator": paths,
                  "example_globals": {"fig": package, "other": pyplot}}
    conf = {"src_dir": str(tmp_path)}
    first = gallery.figures_in_globals(None, block_vars, conf)
    again = gallery.figures_in_globals(None, block_vars, conf)  # a later block: already drawn
    plt.close(pyplot)  # as the default scraper does before this one runs: a closed pyplot figure is still not ours
    block_vars["example_globals"]["later"] = pyplot
    assert gallery.figures_in_globals(None, block_vars, conf) == ""
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["image_0.png"]
    assert "image_0.png" in first and again == ""


def test_the_package_figures_display_as_png_in_a_notebook():
    IPython = pytest.importorskip("IPython")
    from matplotlib.figure import Figure

    fig = ridge_decode.plot_reconstructions(np.zeros((2, 8, 8, 3), np.uint8), np.ones((2, 8, 8, 3), np.uint8))
    assert isinstance(fig, Figure) and fig.canvas.manager is None  # not left in pyplot's state
    formatter = IPython.core.formatters.DisplayFormatter()
    data, _ = formatter.format(fig)
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_a_gallery_without_its_images_is_built_anew(tmp_path):
    gallery = _docs_module("_gallery")
    out = tmp_path / "auto_examples"
    (out / "images").mkdir(parents=True)
    (out / "plot_01_the_data.rst").write_text("x")
    assert not gallery.drop_stale_gallery(out) and out.is_dir()
    (out / "images").rmdir()
    assert gallery.drop_stale_gallery(out) and not out.exists()


def test_an_example_without_its_data_is_named_with_what_provides_it(tmp_path, monkeypatch):
    gallery = _docs_module("_gallery")
    monkeypatch.setenv("RIDGE_DECODE_V4_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("RIDGE_DECODE_KAY_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("RIDGE_DECODE_DATA", str(tmp_path / "data_home"))
    (tmp_path / "empty").mkdir()
    said = []
    missing = gallery.examples_without_data(GALLERY, gallery.DATA_NEEDS, echo=said.append)
    assert missing == {str(GALLERY / "plot_10_real_data_macaque_v4.py"), str(GALLERY / "plot_11_real_fmri_kay2008.py")}
    assert "RIDGE_DECODE_V4_DIR" in said[0] and "responses_201025.npy" in said[0]
    assert "RIDGE_DECODE_KAY_DIR" in said[1] and "kay_images.npz" in said[1]


def test_the_site_checks_find_a_shuffled_order_and_a_duplicated_figure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check = _docs_module("check_site")
    assert check.example_order('<a href="plot_02_b.html"><a href="plot_01_a.html"><a href="plot_02_b.html">') == [
        "plot_02_b", "plot_01_a"]
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(np.sin(np.linspace(0, 9, 50)))
    fig.savefig(tmp_path / "a.png", dpi=100, bbox_inches="tight")  # the package scraper's way
    fig.savefig(tmp_path / "b.png", dpi=80)  # the default scraper's way
    ax.plot(np.cos(np.linspace(0, 9, 50)) * 3)
    fig.savefig(tmp_path / "c.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    assert check.same_picture(tmp_path / "a.png", tmp_path / "b.png")
    assert not check.same_picture(tmp_path / "a.png", tmp_path / "c.png")
    figure_repr = {"text/plain": "<Figure size 640x480 with 1 Axes>"}
    cells = {"cells": [{"cell_type": "markdown", "source": [".. raw:: html\n"]},
                       {"cell_type": "code", "outputs": [{"data": figure_repr}]},
                       {"cell_type": "code", "outputs": [{"data": {"image/png": "...", "text/plain": "<Figure>"}}]}]}
    problems = check.notebook_problems(cells, 2, "x")
    assert len(problems) == 3 and "literal rST" in problems[0] and "repr" in problems[1] and "1 image" in problems[2]


@pytest.mark.site
def test_downloaded_notebooks_show_every_figure_of_their_built_page(monkeypatch):
    """After ``make docs``: three downloaded notebooks, executed outside the repository, against their pages."""
    pytest.importorskip("nbconvert")
    if USER_DATA_HOME:  # the notebooks reuse the data the build wrote into the data home
        monkeypatch.setenv("RIDGE_DECODE_DATA", USER_DATA_HOME)
    else:
        monkeypatch.delenv("RIDGE_DECODE_DATA")
    check = _docs_module("check_site")
    if not (check.HTML / "auto_examples" / "index.html").exists():
        pytest.skip("the site is not built (make docs runs this check after building it)")
    assert check.check_order(check.HTML) == []
    assert check.check_duplicates(check.HTML) == []
    assert check.check_notebooks(check.HTML) == []


@pytest.mark.site
def test_the_site_builds_without_network_or_local_data(tmp_path):
    """``sphinx-build`` with neither ``RIDGE_DECODE_V4_DIR`` nor a reachable download writes the whole site (the
    examples' code not run here: ``make docs`` runs them, and the macaque V4 page then says what is missing)."""
    import shutil
    import subprocess
    import sys

    ignore = shutil.ignore_patterns("_build", "auto_examples", "generated")
    shutil.copytree(DOCS, tmp_path / "docs", ignore=ignore)  # the build writes into its source folder
    shutil.copytree(GALLERY, tmp_path / "examples" / "gallery")
    env = {k: v for k, v in os.environ.items() if k not in ("RIDGE_DECODE_V4_DIR", "RIDGE_DECODE_KAY_DIR")}
    env.update(RIDGE_DECODE_V4_URL="http://127.0.0.1:9/closed", RIDGE_DECODE_KAY_URL="http://127.0.0.1:9/closed",
               RIDGE_DECODE_DATA=str(tmp_path / "data_home"),
               PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-D", "plot_gallery=0",
                           str(tmp_path / "docs"), str(tmp_path / "html")], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "plot_10_real_data_macaque_v4.py will say on its page that its data are missing" in done.stdout
    assert "RIDGE_DECODE_V4_DIR" in done.stdout
    pages = {p.stem for p in (tmp_path / "html" / "auto_examples").glob("plot_*.html")}
    assert {p.stem for p in GALLERY.glob("plot_*.py")} == pages
    assert (tmp_path / "html" / "index.html").stat().st_size > 1_000
