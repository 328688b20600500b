"""Checks of the built documentation site, run after ``sphinx-build`` (``make docs``):

- the tutorial's order: the gallery's index, and every example's "next" link, run plot_01, plot_02, ... in
  file-name order;
- no figure twice on an example's page;
- downloaded notebooks, executed with nbconvert in a folder outside the repository, show one image output per
  figure of the built page, no figure or artist repr as text, and no literal rST in their markdown.

``python docs/check_site.py [HTML] [--notebooks plot_01_the_data,plot_02_targets,...]``; exits 1 with each problem.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
HTML = DOCS / "_build" / "html"
GALLERY = "auto_examples"
NOTEBOOKS = ("plot_01_the_data", "plot_02_targets", "plot_06_decoding")  # pyplot's figures and the package's
EXAMPLE = re.compile(r"plot_(\d+)_\w+")
REPR = re.compile(r"<(Figure size|matplotlib\.[\w.]+ object at|matplotlib\.\w+\.\w+ at)")


def example_order(index_html: str) -> list[str]:
    """The example pages in the order the gallery's index shows them (first appearance of each link)."""
    seen: list[str] = []
    for name in re.findall(r'href="(plot_\d+_\w+)\.html', index_html):
        if name not in seen:
            seen.append(name)
    return seen


def check_order(html: Path) -> list[str]:
    """Problems with the tutorial's order: the index's, and each example page's "next" link."""
    problems = []
    order = example_order((html / GALLERY / "index.html").read_text())
    numbers = [int(EXAMPLE.match(n)[1]) for n in order]
    if not order:
        problems.append(f"{html / GALLERY / 'index.html'}: no example links")
    if numbers != sorted(numbers) or numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"the gallery's index runs {numbers}, not 1..{len(numbers)} in order")
    for here, there in zip(sorted(order), sorted(order)[1:], strict=False):
        page = (html / GALLERY / f"{here}.html").read_text()
        nxt = re.search(r'class="right-next"[^>]*href="([^"]+)"|href="([^"]+)"[^>]*class="right-next"', page)
        target = next((g for g in nxt.groups() if g), "") if nxt else ""
        if Path(target).stem != there:
            problems.append(f"{here}.html: 'next' goes to {target or 'nothing'}, not {there}.html")
    return problems


def page_figures(html: Path, name: str) -> list[Path]:
    """The figure images an example's built page shows (not its thumbnail)."""
    page = (html / GALLERY / f"{name}.html").read_text()
    srcs = re.findall(r'<img[^>]+src="([^"]*sphx_glr_' + re.escape(name) + r'_\d+\.png)"', page)
    return [(html / GALLERY / s).resolve() for s in dict.fromkeys(srcs)]


def _signature(path: Path):
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        grey = image.convert("L")
    ink = np.asarray(grey) < 245  # the drawing, without the white margins that savefig's settings vary
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if rows.size:
        grey = grey.crop((cols[0], rows[0], cols[-1] + 1, rows[-1] + 1))
    aspect = grey.width / grey.height
    small = np.asarray(grey.resize((64, 64), Image.Resampling.BOX), np.float32) / 255
    return aspect, small


def same_picture(a: Path, b: Path, tolerance: float = 0.02) -> bool:
    """Whether two PNG files show the same figure, whatever their resolution and margins: cropped to their
    drawing, the same aspect ratio (within 5%) and a mean absolute difference below ``tolerance`` at 64 x 64 grey
    levels."""
    import numpy as np

    (ra, sa), (rb, sb) = _signature(a), _signature(b)
    return abs(ra / rb - 1) < 0.05 and float(np.abs(sa - sb).mean()) < tolerance


def check_duplicates(html: Path) -> list[str]:
    """Figures shown twice on one example page."""
    problems = []
    for page in sorted((html / GALLERY).glob("plot_*.html")):
        figures = page_figures(html, page.stem)
        for i, a in enumerate(figures):
            for b in figures[i + 1 :]:
                if same_picture(a, b):
                    problems.append(f"{page.name}: {a.name} and {b.name} show the same figure")
    return problems


def notebook_problems(executed: dict, expected_images: int, name: str) -> list[str]:
    """Problems of an executed notebook (nbformat as a dict): its image outputs against ``expected_images``, reprs
    printed as text, literal rST in markdown cells."""
    problems, images = [], 0
    for cell in executed["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            if re.search(r"^\.\. \w+::", text, re.M):
                problems.append(f"{name}.ipynb: literal rST in a markdown cell: {text[:60]!r}")
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                images += 1
                continue
            text = "".join(data.get("text/plain", "")) + "".join(output.get("text", ""))
            if REPR.search(text):
                problems.append(f"{name}.ipynb: a repr instead of a figure: {text.strip()[:80]!r}")
    if images != expected_images:
        problems.append(f"{name}.ipynb: {images} image outputs; its page shows {expected_images} figures")
    return problems


def check_notebooks(html: Path, names=NOTEBOOKS, timeout: int = 900) -> list[str]:
    """Execute the downloaded notebooks ``names`` with nbconvert in a temporary folder outside the repository and
    compare each with its built page."""
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    problems = []
    with tempfile.TemporaryDirectory(prefix="ridge_decode_notebooks_") as tmp:
        for name in names:
            found = sorted((html / "_downloads").glob(f"*/{name}.ipynb"))
            if not found:
                problems.append(f"no downloadable {name}.ipynb under {html / '_downloads'}")
                continue
            path = Path(tmp) / f"{name}.ipynb"
            shutil.copy(found[0], path)
            notebook = nbformat.read(path, as_version=4)
            ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(notebook,
                                                                                   {"metadata": {"path": tmp}})
            executed = json.loads(nbformat.writes(notebook))
            problems += notebook_problems(executed, len(page_figures(html, name)), name)
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", type=Path, default=HTML)
    parser.add_argument("--notebooks", default=",".join(NOTEBOOKS), help="examples whose notebooks to execute "
                        "(comma-separated; empty: none)")
    args = parser.parse_args(argv)
    names = [n for n in args.notebooks.split(",") if n]
    problems = check_order(args.html) + check_duplicates(args.html)
    if names:
        problems += check_notebooks(args.html, names)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{args.html}: {'OK' if not problems else f'{len(problems)} problems'} (order, duplicated figures, "
          f"notebooks {names})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
