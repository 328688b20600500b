"""Every figure of the package, in one place. Figures are written atomically as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .io import atomic_path  # noqa: E402

RUN_KEY = "ridge_decode run"  # the PNG text chunk that names the run a figure belongs to


def _save(fig, path: str | Path, run_id: str | None = None) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={RUN_KEY: run_id} if run_id else None)
    plt.close(fig)
    return path


def reconstruction_grid(
    stimuli: np.ndarray | None, recons: np.ndarray, ids, path: str | Path, title: str = "", scores=None
) -> Path:
    """Each stimulus (top) above its reconstruction (bottom), labelled by image id (and a score if given); with
    ``stimuli=None`` (no ground truth), the reconstructions alone."""
    n = len(recons)
    cols = min(n, 10)
    per = 1 if stimuli is None else 2  # figure rows per row of images
    rows = per * int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.6 * rows), squeeze=False)
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
    return _save(fig, path)


def fit_summary(r_by_group: dict, alphas_by_group: dict, path: str | Path, run_id: str | None = None) -> Path:
    """Per group: the distribution of held-out r over targets, and of the chosen alphas."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, r in r_by_group.items():
        ax1.hist(np.asarray(r)[np.isfinite(r)], bins=40, alpha=0.6, label=f"{name} (mean {np.nanmean(r):.3f})")
        ax2.hist(np.log10(alphas_by_group[name]), bins=20, alpha=0.6, label=name)
    ax1.set(xlabel="held-out r per target", ylabel="targets")
    ax2.set(xlabel="log10 chosen alpha", ylabel="targets")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path, run_id)


def ranked_reconstructions(stimuli, recons, ids, scores, metric: str, higher_is_better: bool, path,
                           per_rank: int = 3) -> Path:
    """The best, median and worst reconstructions by one per-image metric, each beside its stimulus."""
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores if higher_is_better else scores)
    n = len(order)
    mid = max(0, n // 2 - per_rank // 2)
    picks = {"best": order[:per_rank], "median": order[mid : mid + per_rank], "worst": order[-per_rank:]}
    fig, axes = plt.subplots(3, 2 * per_rank, figsize=(2.0 * per_rank * 1.4, 3 * 1.6), squeeze=False)
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
    return _save(fig, path)


def transfer_curves(results: list[dict], path, title: str = "") -> Path:
    """Held-out mean r and fit time against the number of training images, one curve per method."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
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
    return _save(fig, path)
