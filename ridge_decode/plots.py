"""Every figure of the package, in one place. Each function returns a matplotlib ``Figure`` (a notebook shows it);
with ``path`` it is also written there, atomically, as PNG.

Figures are made with ``matplotlib.figure.Figure``, not pyplot: no backend is chosen for the caller, nothing is
left open in pyplot's state, and commands draw without a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .runtime.io import atomic_path

RUN_KEY = "ridge_decode run"  # the PNG text chunk that names the run a figure belongs to


def save(fig: Figure, path: str | Path | None, run_id: str | None = None) -> Figure:
    """Write ``fig`` to ``path`` as PNG (atomically), naming ``run_id`` in its metadata; nothing when ``path`` is
    None. Returns the figure."""
    if path is not None:
        with atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight",
                        metadata={RUN_KEY: run_id} if run_id else None)
    return fig


def _subplots(rows: int, cols: int, figsize, squeeze: bool = True):
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=squeeze)


def plot_reconstructions(recons: np.ndarray, stimuli: np.ndarray | None = None, ids=None,
                         path: str | Path | None = None, title: str = "", scores=None) -> Figure:
    """Each stimulus (top) above its reconstruction (bottom), labelled by image id (and a score if given); with
    ``stimuli=None`` (no ground truth), the reconstructions alone. Images (n, H, W, 3), uint8 or floats in [0, 1];
    ``ids`` (n,) default 0..n-1."""
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
        axes[0, 0].text(-0.15, 0.5, "seen", transform=axes[0, 0].transAxes, rotation=90, va="center", ha="right")
    axes[per - 1, 0].text(-0.15, 0.5, "decoded", transform=axes[per - 1, 0].transAxes, rotation=90, va="center",
                          ha="right")
    fig.suptitle(title, fontsize=9)
    return save(fig, path)


def plot_fit_summary(r_by_group: dict, alphas_by_group: dict, path: str | Path | None = None, run_id: str | None = None,
                grid=None, warnings=()) -> Figure:
    """Per group: the distribution of held-out r over targets (r_by_group {group: (t,)}), and of the chosen alphas
    (alphas_by_group {group: (t,)}), with the grid's ends (``grid``, (A,)) marked and the fit's ``AlphaGridWarning``
    messages written under the plots."""
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
    """The best, median and worst reconstructions by one per-image metric, each beside its stimulus."""
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
    """Held-out mean r and fit time against the number of training images, one curve per method."""
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


def _map_label(name: str) -> str:
    """A brain map's title from its name (``pipeline.maps``)."""
    if name == "noise_ceiling":
        return "noise ceiling (% of variance)"
    kind, _, rest = name.partition("_")
    return {"encoding": f"encoding R^2 of {rest}",
            "share": f"share of the explained variance: {rest.replace('_vs_', ' (red) vs ')} (blue)",
            "pattern": f"activation pattern of the decoder of {rest}"}.get(kind, name)


def plot_maps(images: dict, background, path=None, title: str = "", run_id: str | None = None,
              cuts: int = 5) -> Figure:
    """One row of ``cuts`` axial slices per brain map, {name: NIfTI image in the subject's grid} (``maps``), drawn
    with nilearn over ``background`` (the ROI or mask: the subject's own space has no template). A share is drawn
    as ``share - 0.5``: red where the first family explains more, blue where the second does."""
    # heavy (nibabel, nilearn): imported where used
    import nibabel as nib
    from nilearn import plotting

    fig = Figure(figsize=(2.0 * cuts, 1.9 * len(images) + 0.4))
    for k, (name, image) in enumerate(images.items()):
        ax = fig.add_axes((0.0, 1 - (k + 1) / len(images), 1.0, 1 / len(images)))
        ax.axis("off")
        data = np.asarray(image.dataobj, np.float32)
        share = name.startswith("share_")
        data = np.where(np.isfinite(data), data - 0.5 if share else data, 0.0)
        shown = nib.Nifti1Image(data, image.affine)
        plotting.plot_stat_map(shown, bg_img=background, axes=ax, display_mode="z", cut_coords=cuts, colorbar=True,
                               cmap="RdBu_r" if share else "hot", symmetric_cbar=share, threshold=1e-6,
                               title=_map_label(name), annotate=False, black_bg=False, draw_cross=False, figure=fig)
    if title:
        fig.text(0.5, 1.0, title, ha="center", va="bottom", fontsize=10)
    return save(fig, path, run_id)
