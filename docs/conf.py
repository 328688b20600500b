"""Sphinx configuration of the ridge_decode documentation site (``make docs``)."""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

project = "ridge_decode"
author = "ridge_decode developers"
copyright = "ridge_decode developers"  # noqa: A001 - Sphinx's name for it
release = version = __import__("ridge_decode").__version__

extensions = [
    "myst_parser",  # the markdown pages, as they are
    "numpydoc",  # the docstrings' Parameters / Returns sections
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "real_data/*.png", "maps/*.png", "sg_execution_times.rst"]
myst_heading_anchors = 3
# The pages link to the code they describe (../ridge_decode/...): files of the repository, not pages of the site.
# sphinx-gallery's configuration holds the image scraper below, a function: it cannot be pickled into the cache.
suppress_warnings = ["myst.xref_missing", "config.cache"]

autosummary_generate = True
autodoc_typehints = "none"
# fit, predict, score... on the class page; scikit-learn's generated metadata-routing setters are its own to document
autodoc_default_options = {"members": True, "member-order": "bysource",
                           "exclude-members": "set_fit_request,set_predict_request,set_score_request"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = "ridge_decode"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

_SHOWN: dict = {}  # example file -> ids of the figures already drawn in its earlier blocks


def figures_in_globals(block, block_vars, gallery_conf):
    """sphinx-gallery image scraper for the package's figures: ``ridge_decode``'s plot functions return
    ``matplotlib.figure.Figure`` objects made without pyplot, which the default scraper does not see. Each Figure
    a block leaves in a variable is drawn once."""
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    shown = _SHOWN.setdefault(block_vars["src_file"], set())
    paths = []
    for value in list(block_vars["example_globals"].values()):
        if isinstance(value, Figure) and id(value) not in shown:
            shown.add(id(value))
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=100, bbox_inches="tight")
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


sphinx_gallery_conf = {
    "image_scrapers": ("matplotlib", figures_in_globals),
    "capture_repr": (),  # a figure is drawn, not printed as <Figure ...>
    "examples_dirs": str(DOCS.parent / "examples" / "gallery"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    "filename_pattern": r"/plot_",  # every example runs in the build
    "download_all_examples": True,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "abort_on_example_error": True,
}
os.environ.setdefault("RIDGE_DECODE_PROGRESS", "0")
