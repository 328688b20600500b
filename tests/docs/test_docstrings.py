"""Every public name (``ridge_decode.__all__``) has an API page and a docstring that gives the shapes of its arrays
in numpydoc sections; the glossary defines the terms the pages link to."""

import inspect
import re
from pathlib import Path

import pytest

import ridge_decode

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
# a shape as the docstrings write it: "(n, p)", "(n_test, 16, 768)", "(len(ids), ...)", "of shape (t,)"
SHAPE = re.compile(r"(?:of shape |shape )?\((?:n\w*|len\(\w+\)|p|t|A|N|X|\d+)\s*,[^)]*\)")
# what takes and returns no arrays: nothing to give a shape of (plot_transfer takes a list of dicts, whose units
# its docstring gives; the data home and the synthetic dataset are folders)
NO_ARRAYS = {"RidgeDecodeError", "plot_transfer", "get_data_home", "fetch_synthetic"}
SECTIONS = re.compile(r"^\s*(Parameters|Returns|Attributes)\n\s*-{4,}$", re.M)


def _doc(name: str) -> str:
    return inspect.getdoc(getattr(ridge_decode, name)) or ""


@pytest.mark.parametrize("name", ridge_decode.__all__)
def test_every_public_name_has_an_api_page(name):
    listed = set(re.findall(r"^   (\w+)$", (DOCS / "api.rst").read_text(), re.M))
    assert name in listed, f"{name} is missing from docs/api.rst's autosummary"
    assert _doc(name).strip(), f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(set(ridge_decode.__all__) - NO_ARRAYS))
def test_every_public_docstring_gives_shapes_in_numpydoc_sections(name):
    doc = _doc(name)
    assert SHAPE.search(doc), f"{name}'s docstring gives no array shape such as (n, p):\n{doc}"
    if inspect.isclass(getattr(ridge_decode, name)) and issubclass(getattr(ridge_decode, name), Warning):
        return  # a warning has no parameters: its shape is the grid's, in prose
    assert SECTIONS.search(doc), f"{name}'s docstring has no Parameters / Returns / Attributes section:\n{doc}"


def test_the_shape_check_can_fail():
    """The pattern matches the shapes the docstrings write, and not prose in brackets."""
    for good in ["(n, p)", "of shape (t,)", "(n_test, 16, 768)", "(len(ids), ...)", "(N, H, W, 3)"]:
        assert SHAPE.search(good), good
    for bad in ["(default 32)", "(see the data page)", "(a FeatureStore or its folder)"]:
        assert not SHAPE.search(bad), bad


def test_every_glossary_term_a_page_links_to_is_defined():
    """Each {term} role on a page names a glossary entry (Sphinx warns too, and the build fails on warnings; this
    says which page and term without a build)."""
    text = (DOCS / "glossary.md").read_text()
    block = re.search(r"```\{glossary\}\n(.*?)```", text, re.S).group(1)
    terms = {line.strip().lower() for line in block.splitlines() if line and not line[0].isspace()
             and not line.startswith(":")}
    assert {"betas", "nsdgeneral", "ncsnr", "pixcorr", "ssim", "two-way identification", "gcv", "autokl",
            "ip-adapter", "clip", "kernel ridge", "alpha", "voxel", "roi", "img2img"} <= terms
    used = {}
    for page in DOCS.glob("*.md"):
        for role in re.findall(r"\{term\}`([^`]+)`", page.read_text()):
            target = re.search(r"<([^>]+)>$", role)
            used.setdefault((target.group(1) if target else role).strip().lower(), set()).add(page.name)
    assert not set(used) - terms, {t: used[t] for t in set(used) - terms}
    for page in ["data.md", "ridge.md", "evaluation.md", "features.md", "decoding.md"]:
        assert any(page in pages for pages in used.values()), f"{page} links no glossary term"
