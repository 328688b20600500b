"""Sphinx configuration of the ridge_decode documentation site (``make docs``)."""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS))  # _gallery.py

from _gallery import (  # noqa: E402 - after the path that finds it
    DATA_NEEDS,
    drop_stale_gallery,
    examples_without_data,
    figures_in_globals,
    patch_notebook_writer,
)

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
    "sphinx_design",  # the home page's cards and grid
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

EXAMPLES = DOCS.parent / "examples" / "gallery"
GALLERY_OUT = DOCS / "auto_examples"
patch_notebook_writer()  # the folded answers' HTML reaches the notebooks as HTML, not as literal rST
drop_stale_gallery(GALLERY_OUT)  # an output folder whose images were removed is built anew (issue 46)
sphinx_gallery_conf = {
    "image_scrapers": ("matplotlib", figures_in_globals),
    "capture_repr": (),  # a figure is drawn, not printed as <Figure ...>
    "examples_dirs": str(EXAMPLES),
    "gallery_dirs": str(GALLERY_OUT),
    "filename_pattern": r"/plot_",  # every example runs in the build
    # the tutorial's order: plot_01, plot_02, ... (the default sorts by number of code lines)
    "within_subsection_order": "sphinx_gallery.sorting.FileNameSortKey",
    "download_all_examples": True,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    # an example's error is a warning, so an error with -W (and sphinx-gallery's summary fails the build), except
    # for the expected failures below: abort_on_example_error would stop at those too
    "abort_on_example_error": False,
    # an example whose data cannot be had here shows why on its page; the rest of the site builds
    "expected_failing_examples": examples_without_data(EXAMPLES, DATA_NEEDS),
    # each API page lists the examples that use the name (templates in _templates/autosummary)
    "doc_module": ("ridge_decode",),
    "backreferences_dir": str(DOCS / "api" / "generated" / "backreferences"),
}
templates_path = ["_templates"]
os.environ.setdefault("RIDGE_DECODE_PROGRESS", "0")
