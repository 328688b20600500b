"""The documentation site's sources: every public name is in the API reference, every page is in the site's
table of contents, and every gallery example is a script that runs top to bottom with its imports (the build itself,
`make docs`, runs them all: CI runs it)."""

import ast
import re
from pathlib import Path

import ridge_decode

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
