"""The documentation site's gallery machinery, apart from ``conf.py`` so that the tests can import it: the image
scraper for the package's figures, the notebook writer's handling of the folded answers, the rebuild of a gallery
whose images are gone, and the examples whose data cannot be had in this build."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

# Examples that need data the build may not reach: file name -> the public ``ridge_decode`` function that gets the
# data (written once into the data home) or raises the package's ``DataFileError``, naming what is missing and the
# variable or command that provides it.
DATA_NEEDS = {"plot_10_real_data_macaque_v4.py": "fetch_macaque_v4", "plot_11_real_fmri_kay2008.py": "fetch_kay2008"}

_SHOWN: dict = {}  # example file -> the package figures already drawn in its earlier blocks


def figures_in_globals(block, block_vars, gallery_conf):
    """sphinx-gallery image scraper for the package's figures: ``ridge_decode``'s plot functions return
    ``NotebookFigure``s, made without pyplot, which the default "matplotlib" scraper does not see. Each one a block
    leaves in a variable is drawn once. Only those: pyplot's figures are the default scraper's (drawing any Figure
    here put every pyplot figure twice on its page, as the default scraper closes a figure before this one runs)."""
    from sphinx_gallery.scrapers import figure_rst

    from ridge_decode.plots import NotebookFigure

    shown = _SHOWN.setdefault(block_vars["src_file"], [])  # the figures themselves: an id() may be reused
    paths = []
    for value in list(block_vars["example_globals"].values()):
        if isinstance(value, NotebookFigure) and not any(value is seen for seen in shown):
            shown.append(value)
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=100, bbox_inches="tight")
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


RAW_HTML = re.compile(r"^\.\. raw:: html[ \t]*\n[ \t]*\n((?:[ \t]+\S.*(?:\n|$))+)", re.M)


def raw_html_to_markdown(text: str) -> str:
    """``text`` (an example's rST) with each ``.. raw:: html`` block replaced by its HTML, which a notebook's
    markdown renders (the folded answers' ``<details>``); sphinx-gallery's notebook writer keeps the directive as
    literal text."""
    return RAW_HTML.sub(lambda m: textwrap.dedent(m.group(1)).strip() + "\n", text)


def patch_notebook_writer() -> None:
    """Make sphinx-gallery's rST-to-markdown step of the downloadable notebooks apply ``raw_html_to_markdown``
    first (once, however often ``conf.py`` is read)."""
    from sphinx_gallery import notebook

    original = notebook.rst2md
    if getattr(original, "raw_html_to_markdown", False):
        return

    def rst2md(text, *args, **kwargs):
        return original(raw_html_to_markdown(text), *args, **kwargs)

    rst2md.raw_html_to_markdown = True
    notebook.rst2md = rst2md


def drop_stale_gallery(gallery_out: Path) -> bool:
    """Remove the generated gallery ``gallery_out`` when its image folder is gone: sphinx-gallery would skip the
    unchanged examples, whose pages then name images that no longer exist, and Sphinx stopped with an internal
    error. Returns whether it removed it."""
    gallery_out = Path(gallery_out)
    if gallery_out.is_dir() and not (gallery_out / "images").is_dir():
        shutil.rmtree(gallery_out)
        return True
    return False


def examples_without_data(examples: Path, needs: dict[str, str], echo=print) -> set[str]:
    """The paths (under ``examples``) of the examples in ``needs`` whose data cannot be had here, found by trying
    to get them; each is said with the reason."""
    import ridge_decode
    from ridge_decode.errors import DataFileError

    missing = set()
    for name, getter in needs.items():
        try:
            getattr(ridge_decode, getter)(echo=lambda line: None)
        except DataFileError as exc:
            echo(f"gallery: {name} will say on its page that its data are missing: {str(exc).splitlines()[0]}")
            missing.add(str(Path(examples) / name))
    return missing
