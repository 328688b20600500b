"""Every figure of the package, in one place. Each function returns a matplotlib ``Figure``; with ``path`` it is
also written there, atomically, as PNG.

Figures are made without pyplot: no backend is chosen for the caller, nothing is left open in pyplot's state, and
commands draw without a display. A Figure made without pyplot has no display of its own in a notebook, so they are
``NotebookFigure``s, which draw themselves as PNG there (``_repr_png_``), as pyplot's figures do.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .runtime.io import atomic_path

RUN_KEY = "ridge_decode run"  # the PNG text chunk that names the run a figure belongs to
NOTEBOOK_DPI = 100  # pyplot's inline default


class NotebookFigure(Figure):
    """A ``matplotlib.figure.Figure`` that a notebook (IPython) displays as a PNG image, as it does pyplot's."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=NOTEBOOK_DPI, bbox_inches="tight")
        return buffer.getvalue()


def save(fig: Figure, path: str | Path | None, run_id: str | None = None) -> Figure:
    """Write ``fig`` to ``path`` as PNG (atomically), naming ``run_id`` in its metadata; nothing when ``path`` is
    None. Returns the figure."""
    if path is not None:
        with atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight",
                        metadata={RUN_KEY: run_id} if run_id else None)
    return fig


def _subplots(rows: int, cols: int, figsize, squeeze: bool = True):
    fig = NotebookFigure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=squeeze)


def plot_reconstructions(recons: np.ndarray, stimuli: np.ndarray | None = None, ids=None,
                         path: str | Path | None = None, title: str = "", scores=None,
                         labels=("seen", "decoded")) -> Figure:
    """Each stimulus (top) above its reconstruction (bottom), ten to a row, labelled by image id.

    Parameters
    ----------
    recons : ndarray of shape (n, H, W, 3)
        The reconstructions: uint8 (0-255) or floats in [0, 1].
    stimuli : ndarray of shape (n, H', W', 3), optional
        The seen images, in the same order and the same units; None (no ground truth) draws the reconstructions
        alone. Their size may differ from the reconstructions'.
    ids : array-like of shape (n,), optional
        Integer image ids shown above each stimulus (NSD: 73k ids); default 0..n-1.
    path : str or Path, optional
        Where to write the figure as PNG (atomically); None writes nothing.
    title : str
        The figure's title.
    scores : array-like of shape (n,), optional
        A score per image (e.g. its PixCorr), shown above its reconstruction.
    labels : (str, str)
        The names of the two rows, drawn at their left.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (a notebook displays it).
    """
    ids = np.arange(len(recons)) if ids is None else ids
    n = len(recons)
    cols = min(n, 10)
    per = 1 if stimuli is None else 2  # figure rows per row of images
    rows = per * int(np.ceil(n / cols))
    fig, axes = _subplots(rows, cols, (1.5 * cols, 1.6 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k in range(n):
        r, c = per * (k // cols), k % cols
        if stimuli is not None:
            axes[r, c].imshow(stimuli[k])
        axes[r, c].set_title(f"{int(ids[k]):05d}", fontsize=7)
        axes[r + per - 1, c].imshow(recons[k])
        if scores is not None:
            axes[r + per - 1, c].set_title(f"r={scores[k]:.2f}", fontsize=7)
    if stimuli is not None:
        axes[0, 0].text(-0.15, 0.5, labels[0], transform=axes[0, 0].transAxes, rotation=90, va="center", ha="right")
    axes[per - 1, 0].text(-0.15, 0.5, labels[1], transform=axes[per - 1, 0].transAxes, rotation=90, va="center",
                          ha="right")
    fig.suptitle(title, fontsize=9)
    return save(fig, path)


def plot_fit_summary(r_by_group: dict, alphas_by_group: dict, path: str | Path | None = None, run_id: str | None = None,
                grid=None, warnings=()) -> Figure:
    """Per target group: histograms of the held-out r over targets and of the chosen alphas (log10).

    Parameters
    ----------
    r_by_group : dict of str to ndarray of shape (t,)
        Held-out Pearson r of each of a group's t targets (NaN where undefined: left out of the histogram).
    alphas_by_group : dict of str to ndarray of shape (t,)
        The alpha each target chose (unitless, > 0), with the same groups.
    path : str or Path, optional
        Where to write the figure as PNG (atomically); None writes nothing.
    run_id : str, optional
        The run the figure belongs to, written into the PNG's metadata.
    grid : array-like of shape (A,), optional
        The alpha grid searched; its ends are marked (dotted lines).
    warnings : sequence of str
        The fit's ``AlphaGridWarning`` messages, written under the plots.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax1, ax2) = _subplots(1, 2, (9, 3.2 + 0.35 * len(warnings)))
    for name, r in r_by_group.items():
        ax1.hist(np.asarray(r)[np.isfinite(r)], bins=40, alpha=0.6, label=f"{name} (mean {np.nanmean(r):.3f})")
        ax2.hist(np.log10(alphas_by_group[name]), bins=20, alpha=0.6, label=name)
    if grid is not None:
        for end in (np.min(grid), np.max(grid)):
            ax2.axvline(np.log10(end), color="0.4", linestyle=":", linewidth=1)
        ax2.set_title("dotted: the ends of the alpha grid", fontsize=8)
    ax1.set(xlabel="held-out r per target", ylabel="targets")
    ax2.set(xlabel="log10 chosen alpha", ylabel="targets")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    for k, message in enumerate(warnings):
        fig.text(0.01, 0.01 + 0.05 * k, "warning: " + message, fontsize=6.5, color="darkred", wrap=True)
    fig.tight_layout(rect=(0, 0.06 * len(warnings), 1, 1))
    return save(fig, path, run_id)


def plot_ranked(recons, stimuli, ids, scores, metric: str, higher_is_better: bool = True, path=None,
                per_rank: int = 3) -> Figure:
    """The best, median and worst reconstructions by one per-image metric, each beside its stimulus.

    Parameters
    ----------
    recons : ndarray of shape (n, H, W, 3)
        The reconstructions: uint8 (0-255) or floats in [0, 1].
    stimuli : ndarray of shape (n, H', W', 3)
        The seen images, in the same order and units.
    ids : array-like of shape (n,)
        Integer image ids (NSD: 73k ids), shown above each stimulus.
    scores : array-like of shape (n,)
        The metric per image (e.g. PixCorr per image), float.
    metric : str
        The metric's name, for the labels.
    higher_is_better : bool
        False for a distance (EffNet-B, SwAV), so that "best" is the lowest.
    path : str or Path, optional
        Where to write the figure as PNG (atomically); None writes nothing.
    per_rank : int
        How many images each of the three rows shows.

    Returns
    -------
    matplotlib.figure.Figure
    """
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores if higher_is_better else scores)
    n = len(order)
    mid = max(0, n // 2 - per_rank // 2)
    picks = {"best": order[:per_rank], "median": order[mid : mid + per_rank], "worst": order[-per_rank:]}
    fig, axes = _subplots(3, 2 * per_rank, (2.0 * per_rank * 1.4, 3 * 1.6), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for row, (label, idx) in enumerate(picks.items()):
        for c, k in enumerate(idx[:per_rank]):
            axes[row, 2 * c].imshow(stimuli[k])
            axes[row, 2 * c].set_title(f"{int(ids[k]):05d}", fontsize=7)
            axes[row, 2 * c + 1].imshow(recons[k])
            axes[row, 2 * c + 1].set_title(f"{metric} {scores[k]:.2f}", fontsize=7)
        axes[row, 0].text(-0.2, 0.5, label, transform=axes[row, 0].transAxes, rotation=90, va="center", ha="right")
    fig.suptitle(f"best, median and worst by {metric} (stimulus left, reconstruction right)", fontsize=9)
    return save(fig, path)


def plot_transfer(results: list[dict], path=None, title: str = "") -> Figure:
    """Held-out mean r and fit time against the number of training images, one curve per method (log axes).

    Parameters
    ----------
    results : list of dict
        One dict per fit, as ``ridge-decode transfer`` writes them: ``method`` (str: "transfer", "scratch",
        "scratch_principal" or another name), ``n_train`` (int, training images of the new subject), ``mean_r``
        (float, held-out Pearson r averaged over targets) and ``seconds`` (float, fit wall time in seconds).
        k fits give k points, grouped into curves by method.
    path : str or Path, optional
        Where to write the figure as PNG (atomically); None writes nothing.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax1, ax2) = _subplots(1, 2, (9, 3.4))
    styles = {"transfer": ("o-", "transfer (reference's basis)"), "scratch": ("s--", "scratch ridge, alpha per target"),
              "scratch_principal": ("^:", "scratch, alpha per principal direction")}
    for method in dict.fromkeys(r["method"] for r in results):
        style, label = styles.get(method, ("x-.", method))
        rows = sorted((r for r in results if r["method"] == method), key=lambda r: r["n_train"])
        n = [r["n_train"] for r in rows]
        ax1.plot(n, [r["mean_r"] for r in rows], style, label=label)
        ax2.plot(n, [r["seconds"] for r in rows], style, label=label)
    ax1.set(xlabel="training images of the new subject", ylabel="held-out mean r", xscale="log")
    ax2.set(xlabel="training images of the new subject", ylabel="fit seconds", xscale="log", yscale="log")
    ax1.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def _map_label(name: str) -> tuple[str, str]:
    """A brain map's title and its colour bar's unit, from its name (``pipeline.maps``)."""
    if name == "noise_ceiling":
        return "noise ceiling", "% of variance"
    kind, _, rest = name.partition("_")
    if kind == "share":
        a, _, b = rest.partition("_vs_")
        return (f"share of the explained variance: R2({a}) / (R2({a}) + R2({b})); red: {a} explains more, blue: "
                f"{b}", f"share of {a} (0.5: equal)")
    return {"encoding": (f"encoding map of {rest}: out-of-sample R2 (GCV)", "R2"),
            "pattern": (f"activation pattern of the decoder of {rest}", "covariance (a.u.)")}.get(kind, (name, ""))


def plot_maps(images: dict, background, path=None, title: str = "", run_id: str | None = None,
              cuts: int = 5) -> Figure:
    """One row of ``cuts`` axial slices per brain map, {name: NIfTI image in the subject's grid} (``maps``), drawn
    with nilearn's ``plot_stat_map`` over ``background`` (the ROI or mask: the subject's own space has no
    template), each colour bar in its map's units. A share (in [0, 1]) is drawn around 0.5: red where the first
    family explains more, blue where the second does."""
    # heavy (nibabel, nilearn): imported where used
    import nibabel as nib
    from nilearn import plotting

    row, head = 1.9, 0.35  # inches per map row, of which the title strip above the slices
    top = 0.45 if title else 0.0
    height = row * len(images) + top
    fig = NotebookFigure(figsize=(2.0 * cuts + 1.0, height))
    for k, (name, image) in enumerate(images.items()):
        label, unit = _map_label(name)
        y0 = 1 - (top + (k + 1) * row) / height
        ax = fig.add_axes((0.0, y0, 1.0, (row - head) / height))
        ax.axis("off")
        fig.text(0.01, y0 + (row - head) / height + 0.05 * head / height, label, fontsize=8, va="bottom")
        data = np.asarray(image.dataobj, np.float32)
        share = name.startswith("share_")
        # outside the voxels (NaN) is 0, which the threshold leaves transparent
        shown = nib.Nifti1Image(np.where(np.isfinite(data), data, 0.0), image.affine)
        finite = data[np.isfinite(data)]
        if share:
            limits = {"vmin": 0.0, "vmax": 1.0, "symmetric_cbar": False}
        else:
            top_value = float(np.nanmax(np.abs(finite))) if finite.size else 1.0
            symmetric = finite.size > 0 and float(finite.min()) < 0
            limits = {"vmin": -top_value if symmetric else 0.0, "vmax": top_value or 1.0,
                      "symmetric_cbar": symmetric}
        display = plotting.plot_stat_map(shown, bg_img=background, axes=ax, display_mode="z", cut_coords=cuts,
                                         colorbar=True, cmap="RdBu_r" if share or limits["symmetric_cbar"] else "hot",
                                         threshold=1e-6, annotate=False, black_bg=False, draw_cross=False,
                                         figure=fig, **limits)
        cbar = getattr(display, "_cbar", None)
        if cbar is not None and unit:
            cbar.set_label(unit, fontsize=7)
            cbar.ax.tick_params(labelsize=6)
    if title:
        fig.text(0.5, 1 - 0.1 / height, title, ha="center", va="top", fontsize=10)
    return save(fig, path, run_id)
