"""Ridge-based brain decoding, step by step, on the synthetic subject. Writes docs/tutorial.md and its figures.

    python examples/tutorial.py                      # = make tutorial (about 15 s once the subject is simulated)
    python examples/tutorial.py --size tiny --out /tmp/tutorial --data-root /tmp/synthetic   # the test's version

Every number and figure in the tutorial comes from this run, so the text cannot drift from the code. The code the
tutorial shows is this file's own: each block between ``# show: NAME`` and ``# end show`` is copied into the page
as it is, and it is the code that ran.
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ridge_decode._infra.io import atomic_path  # noqa: E402
from ridge_decode._infra.manifest import entry_path  # noqa: E402
from ridge_decode.decode import weightfree  # noqa: E402
from ridge_decode.evaluation import metrics  # noqa: E402
from ridge_decode.features import FeatureStore  # noqa: E402
from ridge_decode.features.extract import extract_family  # noqa: E402
from ridge_decode.ridge import OneStageRidge  # noqa: E402
from ridge_decode.simulation import simulate  # noqa: E402
from ridge_decode.sources import NiftiSource  # noqa: E402
from ridge_decode.sources.nsd import load_subject, open_stimuli, read_design, read_noise_ceiling, subject_trials  # noqa: E402
from ridge_decode.sources.nsd_files import betas_path, present_sessions  # noqa: E402

RIDGE_ROW = "ridge -> 16 IP-Adapter-Plus tokens (2025)"  # a row of the package's own published table
EARLY = 0.5  # hierarchy position below which the simulator's voxels are "early" (pixel-like receptive fields)
SHOWN = 10  # test images in the reconstruction figure


def published(name: str = RIDGE_ROW) -> str:
    """A published row as text, from ``evaluation.image_metrics.PUBLISHED`` (never a copy of its numbers here)."""
    from ridge_decode.evaluation import image_metrics as ev

    row = ev.PUBLISHED[name]
    return ", ".join(f"{m.label} {m.format(row.values.get(k))}" for k, m in ev.REGISTRY.items())


def shown(name: str) -> list[str]:
    """The lines of this file between ``# show: name`` and ``# end show``, dedented, as a markdown code block."""
    text = Path(__file__).read_text()
    m = re.search(rf"^[ \t]*# show: {name}\n(.*?)^[ \t]*# end show", text, flags=re.S | re.M)
    return ["```python", textwrap.dedent(m.group(1)).rstrip(), "```", ""]


def _save(fig, path: Path) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path.name


def section_data(root: Path, figs: Path, size: str) -> tuple[list[str], object]:
    """1. What the synthetic subject is, and what one subject's data look like."""
    # show: data
    if not (root / "synthetic.json").exists():
        simulate(root, size=size, subjects=(1, 2), seed=0)     # NSD's file layout, a known encoding model
    data = load_subject(1, root)                               # betas z-scored per session, repeats averaged
    # data.train_betas, data.test_betas: (images, voxels), float32; data.train_ids, data.test_ids: 73k image ids
    # end show
    design = read_design(root / "nsddata/experiments/nsd/nsd_expdesign.mat")
    trials = subject_trials(design, 1, 750)[0]
    shared = set(data.test_ids.tolist())
    fig, ax = plt.subplots(figsize=(8, 2.6))
    is_test = np.array([i in shared for i in trials])
    ax.scatter(np.flatnonzero(~is_test), trials[~is_test], s=2, label="training images")
    ax.scatter(np.flatnonzero(is_test), trials[is_test], s=4, c="C3", label="shared (test) images")
    ax.set(xlabel="trial in session 1", ylabel="73k image id", title="session 1: which image each trial showed")
    ax.legend(fontsize=7, markerscale=3)
    f1 = _save(fig, figs / "design.png")
    md = ["## 1. The synthetic subject", "",
          "Everything on this page runs on a **simulated** subject, so that you can run it in seconds and so that "
          "the truth is known. `ridge_decode.simulation` writes files in exactly the layout of the Natural Scenes "
          "Dataset (NSD): per-session betas (`betas_sessionNN.hdf5`, int16, percent signal change x 300), the "
          "nsdgeneral ROI, the experiment design (`nsd_expdesign.mat`), the stimuli (`nsd_stimuli.hdf5`) and COCO-"
          "style captions. The package's NSD loader reads them unchanged. How the responses are made:", "",
          "- **stimuli**: every image id is its own dead-leaves composition of patches of real photographs;",
          "- **voxels**: each has a position `t` along the visual hierarchy. Early voxels (`t` near 0) respond to "
          "the image's pixels in a small receptive field; late ones read out a 256-dimensional latent of the image "
          "whose variance falls as a power law; in between, a blend;",
          "- **noise**: trial noise with a signal-to-noise ratio per voxel that falls along the hierarchy as NSD's "
          "does, and a gain and offset per session;",
          "- the settings (`--preset nsd`, the default) make it about as hard to decode as NSD (docs/data.md).", "",
          "A subject saw images, one per trial, 750 trials per session. Each trial gives one **beta** per voxel "
          f"(the response amplitude). The nsdgeneral ROI keeps {data.n_voxels} voxels of this subject. Images are "
          "shown up to three times; repeats are averaged, so each image is one row. The images every subject saw "
          f"(NSD's shared1000) are the **test** set: here {len(data.test_ids)} test and {len(data.train_ids)} "
          f"training images (mean {data.train_repeats.mean():.2f} repeats per training image).", "",
          *shown("data"), f"![design]({figs.name}/{f1})", ""]
    return md, data


def section_targets(root: Path, data) -> tuple[list[str], np.ndarray, np.ndarray]:
    """2. What is predicted: one feature family, here the 32 x 32 thumbnail."""
    # show: targets
    store = FeatureStore(root / "features")                    # computed once, shared by every subject
    if not store.exists("pixels"):
        ids = np.union1d(data.train_ids, data.test_ids)
        extract_family("pixels", ids, store, read_images=open_stimuli(root).read)
    Y_train = store.read("pixels", data.train_ids)             # (images, 32, 32, 3) in [0, 1]
    Y_test = store.read("pixels", data.test_ids)
    # end show
    md = ["## 2. What we predict: targets", "",
          "A decoder predicts **targets**: numbers computed from each image by a fixed model, cached once for all "
          "subjects. On real data they are IP-Adapter tokens, VAE latents and CLIP features (docs/features.md); "
          f"here, to need no weights, the family `pixels`: the image shrunk to 32 x 32 colour pixels, "
          f"{Y_train[0].size} targets per image. Every pixel value is one target, predicted on its own.", "",
          *shown("targets")]
    return md, Y_train, Y_test


def section_ridge(figs: Path, X_train, Y_train) -> tuple[list[str], OneStageRidge]:
    """3. Ridge in kernel form, and its spectrum with the chosen alpha."""
    # show: fit
    model = OneStageRidge().fit(X_train, {"pixels": Y_train})   # alpha chosen per target by GCV
    alpha = model.alphas_["pixels"]                             # (targets,) the chosen alphas
    # end show
    s = np.sort(model.kernel_eigenvalues_)[::-1]
    med = float(np.median(alpha))
    fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    ax.loglog(np.arange(1, len(s) + 1), np.maximum(s, 1e-3), label="eigenvalues s_j of K = X X^T")
    ax.axhline(med, color="C3", ls="--", label=f"median chosen alpha {med:.3g}")
    kept = int((s > med).sum())
    ax.axvline(kept, color="0.6", lw=0.8, label=f"the {kept} components whose eigenvalue exceeds it: kept")
    ax.annotate("the centred kernel's null direction\n(eigenvalue 0, drawn at 1e-3)", (len(s), 1e-3),
                xytext=(0.64, 0.42), textcoords="axes fraction", fontsize=7, arrowprops={"arrowstyle": "->"})
    ax.set(xlabel="component j", ylabel="eigenvalue", title="kernel spectrum and the chosen alpha")
    ax.legend(fontsize=7, loc="lower left")
    f2 = _save(fig, figs / "spectrum.png")
    n, p = X_train.shape
    md = ["## 3. Why ridge, and why the kernel form", "",
          f"Each target is a linear function of {p} voxels, learned from only {n} images: more unknowns than "
          "equations, so plain least squares would fit the noise exactly. **Ridge** adds a penalty alpha on the "
          "size of the weights. When images are fewer than voxels, the solution is cheaper in its **kernel (dual) "
          f"form**: everything goes through the {n} x {n} matrix `K = X X^T`, computed once for all targets, and "
          "one eigendecomposition `K = Q diag(s) Q^T` serves every target and every alpha.", "",
          *shown("fit"),
          "In the eigenbasis, ridge keeps the part of the targets along component j by the factor "
          "`s_j / (s_j + alpha)`: components whose eigenvalue is well above alpha are kept, those well below are "
          f"shrunk to nothing. The dashed line is the median chosen alpha: about {kept} of the {len(s)} components "
          "lie above it. The spectrum decays, so a few directions of voxel space carry most of the variance, and "
          "alpha decides how far down the spectrum the fit reaches.", "", f"![spectrum]({figs.name}/{f2})", ""]
    return md, model


def section_gcv(figs: Path, model, X_test, Y_test) -> tuple[list[str], np.ndarray]:
    """4. Choosing alpha: GCV, effective degrees of freedom and the grid."""
    # show: gcv
    grid = model.alpha_grid_                                    # the candidate alphas
    gcv = model.cv_scores_["pixels"]                            # (alphas, targets) GCV error of each
    s = model.kernel_eigenvalues_
    df = np.array([(s / (s + a)).sum() for a in grid])          # effective degrees of freedom of each alpha
    r = metrics.columnwise_r(model.predict(X_test)["pixels"], Y_test)   # held-out r of each target
    # end show
    alpha = model.alphas_["pixels"]
    n = len(s)
    picks = np.argsort(r)[[len(r) // 20, len(r) // 2, -len(r) // 20]]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for k in picks:
        a1.semilogx(grid, gcv[:, k] / gcv[:, k].min(), label=f"target {k} (held-out r {r[k]:.2f})")
        a1.plot(alpha[k], 1.0, "k.")
    a1.set(xlabel="alpha", ylabel="GCV error / its minimum", title="GCV curves of three targets")
    a1.legend(fontsize=7)
    a2.semilogx(grid, df, "o-", ms=3)
    a2.axvline(np.median(alpha), color="C3", ls="--", label="median chosen alpha")
    a2.set(xlabel="alpha", ylabel="effective degrees of freedom", title=f"df(alpha), of n = {n}")
    a2.legend(fontsize=7)
    counts = np.array([(alpha == a).sum() for a in grid])
    step = np.log10(grid[1] / grid[0])
    a3.bar(np.log10(grid), counts, width=0.8 * step)
    decades = np.arange(np.floor(np.log10(grid[0])), np.ceil(np.log10(grid[-1])) + 1, 2)
    a3.set_xticks(decades, [f"$10^{{{int(d)}}}$" for d in decades])
    a3.set(xlabel="chosen alpha (one bar per grid point)", ylabel="targets", title="how many targets chose each alpha")
    f3 = _save(fig, figs / "alphas.png")
    used = int((counts > 0).sum())
    k_med = int(np.argmin(np.abs(grid - np.median(alpha))))
    md = ["## 4. Choosing alpha: generalised cross-validation", "",
          "Too small an alpha fits the noise of the training images; too large a one shrinks the signal away. The "
          "right amount differs between targets, so each gets its own. The intuition is a budget: the **effective "
          "degrees of freedom** `df(alpha) = sum_j s_j / (s_j + alpha)` count how many of the n training images' "
          "worth of freedom the fit uses (n for no penalty, 0 for an infinite one). GCV (generalised cross-"
          "validation) estimates the error on new images as the training error inflated by the freedom spent:",
          "", "`GCV(alpha) = n * RSS(alpha) / (n - df(alpha))^2`, RSS the sum of squared training residuals", "",
          "As alpha falls, the training error falls but the denominator shrinks faster once the extra freedom only "
          "fits noise; GCV's minimum is where one more degree of freedom stops paying for itself. It approximates "
          "leave-one-out cross-validation (each image's own leverage replaced by the average one), and in the "
          "eigenbasis it costs one small matrix product for every alpha and target at once (docs/ridge.md).", "",
          *shown("gcv"),
          f"The grid has {len(grid)} alphas, log-spaced from {grid[0]:.0e} to {grid[-1]:.0e} (each "
          f"{grid[1] / grid[0]:.2f}x the last); a target's alpha is one of them, so the chosen alphas are not a "
          f"continuous spread: {used} grid points are used at all (right panel). The median choice, "
          f"{np.median(alpha):.3g}, leaves df = {df[k_med]:.0f} of n = {n} ({df[k_med] / n:.0%}): on these noisy "
          "voxels most of the freedom would only fit noise. Left: the GCV curves of a poor, a median and a good "
          f"target (the dots mark the minima); the mean held-out r over all targets is {np.nanmean(r):.3f}.", "",
          f"![alphas]({figs.name}/{f3})", ""]
    return md, r


def section_decode(root: Path, figs: Path, data, model, Y_test) -> tuple[list[str], np.ndarray]:
    """5. Decoding: the predicted thumbnails, the best possible ones, and each image's r."""
    # show: decode
    pred = model.predict(data.test_betas)["pixels"]             # (test images, 32, 32, 3)
    recon = weightfree.pixels_to_images(pred, size=128)         # clipped to [0, 1], upsampled, uint8
    r_image = metrics.pixcorr_per_image(pred, Y_test)           # each image's PixCorr at 32 px
    # end show
    stimuli = open_stimuli(root).read(data.test_ids[:SHOWN])
    best = weightfree.pixels_to_images(Y_test[:SHOWN], size=128)
    show = min(SHOWN, len(stimuli))
    fig, axes = plt.subplots(3, show, figsize=(1.5 * show, 5.0), squeeze=False)
    for k in range(show):
        for row, img in enumerate((stimuli[k], best[k], recon[k])):
            axes[row, k].imshow(img)
            axes[row, k].axis("off")
        axes[0, k].set_title(f"{int(data.test_ids[k]):05d}", fontsize=7)
        axes[2, k].set_title(f"r = {r_image[k]:.2f}", fontsize=7)
    for row, name in enumerate(("seen", "best possible\n(32 x 32 target)", "decoded")):
        axes[row, 0].text(-0.15, 0.5, name, transform=axes[row, 0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=8)
    fig.suptitle("held-out test images: seen, the 32 x 32 target the decoder can at best recover, decoded",
                 fontsize=9)
    f4 = _save(fig, figs / "reconstructions.png")
    md = ["## 5. Decoding pixels", "",
          "The fitted model predicts the targets of the test images from their betas alone; as pictures:", "",
          *shown("decode"),
          "Top: the seen image. Middle: its 32 x 32 target, upsampled, which is the best this decoder could ever "
          "return (it predicts nothing finer). Bottom: the decoded thumbnail, with its correlation with the middle "
          f"row (PixCorr at 32 px, next section). The decoded thumbnails keep only the coarsest layout and colour "
          f"cast of each image (r {r_image[:show].min():.2f} to {r_image[:show].max():.2f} for these {show}), far "
          "from the best possible row: these noisy voxels carry little of the finer structure.", "",
          f"![reconstructions]({figs.name}/{f4})", ""]
    return md, pred


def section_scores(r: np.ndarray, pred: np.ndarray, Y_train, Y_test) -> list[str]:
    """6. Two ways to score, r per target against PixCorr, with a worked example of their disagreeing."""
    # show: scores
    pixcorr_32 = metrics.pixcorr(pred, Y_test)                  # within each image, across its pixels
    mean_image = np.broadcast_to(Y_train.mean(0), Y_test.shape)     # the same picture for every test image
    flat = np.broadcast_to(Y_test.mean((1, 2, 3), keepdims=True), Y_test.shape)  # each image's true brightness
    # end show
    small, dec = (weightfree.pixels_to_images(x) for x in (Y_test, pred))
    ident = metrics.two_way_identification(dec.astype(float), small.astype(float))
    rng = np.random.default_rng(0)
    chance = np.mean([metrics.two_way_identification(dec[rng.permutation(len(dec))].astype(float),
                                                     small.astype(float)) for _ in range(20)])
    with np.errstate(invalid="ignore"):
        r_mean_image = np.nan_to_num(metrics.columnwise_r(mean_image, Y_test)).mean()
        pc_mean_image = metrics.pixcorr(mean_image, Y_test)
        r_flat = np.nanmean(metrics.columnwise_r(flat, Y_test))
        pc_flat = np.nan_to_num(metrics.pixcorr_per_image(flat, Y_test)).mean()
    rows = [("the fitted ridge", np.nanmean(r), pixcorr_32),
            ("the mean training image, for every test image", r_mean_image, pc_mean_image),
            ("each test image's true mean brightness, as a flat grey", r_flat, pc_flat)]
    table = ["| prediction | mean r per target (across images) | PixCorr at 32 px (within images) |", "|---|---|---|"]
    table += [f"| {name} | {a:.3f} | {b:.3f} |" for name, a, b in rows]
    return ["## 6. Two ways to score: r per target, and PixCorr", "",
            "The fit is scored per **target**: for one pixel, the correlation across test images between its "
            "predicted and true values (the r of the last sections). Reconstructions are scored per **image**: "
            "**PixCorr**, for one image, correlates its predicted pixels with its true ones, across the pixels, "
            "then averages over images. The two answer different questions and can disagree completely:", "",
            *shown("scores"), *table, "",
            f"The mean training image is the same picture for every test image, so it says nothing about which "
            f"image was seen: its r per target is 0 (a constant has no correlation; counted as 0). Yet its PixCorr "
            f"is {pc_mean_image:.3f}: whatever layout and colours the images share, it gets right within each one. "
            f"The flat grey tracks each image's overall brightness, so every pixel's value across images follows it "
            f"(mean r {r_flat:.3f}); but it has no pattern within an image, so its PixCorr is 0. On a lab's own "
            "data the same can happen: images that differ mostly in overall brightness or colour give a high mean "
            "r per target with a PixCorr near 0. Read both.", "",
            "**Two-way identification** asks whether each reconstruction correlates more with its own stimulus than "
            f"with another test stimulus; chance is 50%. Here it is {100 * ident:.1f}% (at 32 px); with the "
            f"reconstructions shuffled across images it drops to {100 * chance:.1f}% (20 shuffles). The PixCorr of "
            "this page is **PixCorr at 32 px**, between 32 x 32 thumbnails. The standard NSD metric is computed "
            "at the stimulus size by `ridge-decode evaluate` (docs/evaluation.md), and only that one may stand "
            "beside the published tables.", ""]


def section_ceiling(root: Path, figs: Path, data) -> list[str]:
    """7. The noise ceiling, early against late voxels."""
    import h5py

    # show: ceiling
    nc = read_noise_ceiling(1, root, n_repeats=3.0)             # % of each voxel's variance that repeats
    # end show
    with h5py.File(root / "nsddata/ppdata/subj01/synthetic_ground_truth.h5", "r") as f:
        xyz, t = f["encoding/voxel_xyz"][()], f["encoding/hierarchy"][()]
    order = {tuple(v): k for k, v in enumerate(xyz.tolist())}
    t = t[[order[tuple(v)] for v in data.voxel_xyz.tolist()]]
    early, late = nc[t < EARLY], nc[t >= EARLY]
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    bins = np.linspace(0, max(nc.max(), 1.0), 40)
    ax.hist(early, bins=bins, alpha=0.6, label=f"early voxels (t < {EARLY}), median {np.median(early):.1f}%")
    ax.hist(late, bins=bins, alpha=0.6, label=f"late voxels (t >= {EARLY}), median {np.median(late):.1f}%")
    ax.set(xlabel="noise ceiling (% variance, 3 repeats)", ylabel="voxels", title="voxel noise ceilings")
    ax.legend(fontsize=7)
    f6 = _save(fig, figs / "noise_ceiling.png")
    return ["## 7. The noise ceiling, early against late", "",
            "How good could decoding possibly be? Each voxel's response is signal plus trial noise. NSD ships a "
            "signal-to-noise ratio `ncsnr` per voxel; the simulator planted one and wrote it in the same file. The "
            "noise ceiling, the share of a voxel's variance that repeats, is `100 ncsnr^2 / (ncsnr^2 + 1/n)` for n "
            "averaged trials:", "", *shown("ceiling"),
            f"Early voxels are the more repeatable: median {np.median(early):.1f}% against {np.median(late):.1f}% "
            "for late ones, as in NSD, where the medians fall from V1 (37%) and V2 (31%) to V4 (26%) and IT (10%) "
            "(the NSD data paper). Decoding pools many noisy voxels, so a target's r is not bounded by one voxel's "
            "ceiling, but the ceiling says where the information is: `scripts/fit.py --min-nc 10` keeps only the "
            "voxels above 10%. With little data of a new subject, another subject's fit helps (docs/transfer.md).",
            "", f"![noise ceiling]({figs.name}/{f6})", ""]


def write_own_data(root: Path, own: Path, data) -> dict:
    """The synthetic subject 1 as a lab has its data: 4-D NIfTI betas per session, a mask, a trials TSV and a folder
    of images."""
    import h5py
    import nibabel as nib
    from PIL import Image

    own.mkdir(parents=True, exist_ok=True)
    mask_img = nib.load(str(entry_path("nsdgeneral", root, 1)))
    nib.save(nib.Nifti1Image((np.asarray(mask_img.dataobj) > 0).astype(np.uint8), mask_img.affine), own / "mask.nii")
    design = read_design(root / "nsddata/experiments/nsd/nsd_expdesign.mat")
    sessions = present_sessions(root, 1, "hdf5")
    ids = subject_trials(design, 1, 750 * max(sessions))[0]
    test = set(data.test_ids.tolist())
    with open(own / "trials.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["image", "split", "id", "session"])
        for s in sessions:
            with h5py.File(betas_path(root, 1, s, "hdf5"), "r") as h:
                vol = h["betas"][()].transpose(3, 2, 1, 0)  # NSD's HDF5 axes (trial, Z, Y, X) -> NIfTI's (X, Y, Z, t)
            nib.save(nib.Nifti1Image(vol, mask_img.affine), own / f"betas_session{s:02d}.nii")
            for i in ids[750 * (s - 1): 750 * s]:
                w.writerow([f"{i:05d}.png", "test" if i in test else "train", int(i), s])
    (own / "images").mkdir(exist_ok=True)
    seen = np.union1d(data.train_ids, data.test_ids)
    for i, img in zip(seen, open_stimuli(root).read(seen), strict=True):
        Image.fromarray(img).save(own / "images" / f"{i:05d}.png")
    return {"sessions": len(sessions), "images": len(seen)}


def section_own(root: Path, data) -> list[str]:
    """8. Your own data, through the NIfTI source: the same subject, read as a lab would have it."""
    with tempfile.TemporaryDirectory() as tmp:
        own = Path(tmp) / "own"
        written = write_own_data(root, own, data)
        # show: own
        source = NiftiSource(betas=sorted(own.glob("betas_session*.nii")), mask=own / "mask.nii",
                             trials=own / "trials.tsv", images=own / "images")
        mine = source.data()                                    # the same SubjectData an NSD subject gives
        # end show
    same = np.array_equal(mine.train_ids, data.train_ids) and np.array_equal(mine.test_ids, data.test_ids)
    diff = float(np.abs(mine.train_betas - data.train_betas).max())
    return ["## 8. Your own data: NIfTI betas with a mask", "",
            "A lab's single-trial GLM (GLMsingle, nilearn's first-level models) gives 4-D NIfTI betas, one volume "
            "per trial. With a mask, a table of trials and the images, the package reads them through nilearn's "
            "`NiftiMasker`. To see that it is the same thing, this step writes subject 1 as a lab would have it: "
            f"{written['sessions']} files `betas_sessionNN.nii`, `mask.nii` (the ROI), `trials.tsv` (one row per "
            f"volume: `image`, `split`, `id`, `session`) and a folder of {written['images']} PNG images; then reads it "
            "back:", "", *shown("own"),
            f"Same images in both splits: {'yes' if same else 'no'}; largest difference from the NSD loader's "
            f"betas: {diff:.1e} (float32 rounding). From here every step above is the same. On the command line "
            "(docs/data.md):", "",
            "```bash",
            "python scripts/check_data.py --betas 'own/betas_session*.nii' --mask own/mask.nii --trials own/trials.tsv "
            "--images own/images",
            "python scripts/fit.py --betas 'own/betas_session*.nii' --mask own/mask.nii --trials own/trials.tsv "
            "--images own/images --targets pixels",
            "```", "",
            "`check_data.py` runs the one validation pass a fit runs: a mask of another grid, an image missing from "
            "the folder, a table with fewer rows than volumes or an unknown split is one line naming the file (and "
            "the row and column).", ""]


def section_nsd() -> list[str]:
    """9. The same chain on real NSD with real weights."""
    return ["## 9. With real NSD and real weights", "",
            "The same code runs on NSD once the files and weights are local (README, docs/reproduce.md):", "",
            "```bash", "python scripts/fetch_nsd.py --subject 1 --dest /data/nsd",
            "python scripts/fetch_weights.py --weights-root /data/nsd/weights",
            "python scripts/extract_features.py --features ipadapter_plus,autokl --data-root /data/nsd --device cuda",
            "python scripts/fit.py --subject 1 --data-root /data/nsd --targets ipadapter_plus,autokl",
            "python scripts/decode.py --subject 1 --data-root /data/nsd --device cuda",
            "python scripts/evaluate.py --subject 1 --data-root /data/nsd", "```", "",
            "Sizes change: 8,859 training and 982 test images, 15,724 voxels, 16 x 768 + 4 x 64 x 64 targets; "
            "a fit of 12,288 targets took 92 s on 2 CPU cores, one of 88,000 took 173 s (docs/performance.md). "
            "The published ridge baseline on the IP-Adapter-Plus tokens reaches "
            f"{published()} (average of subjects 1, 2, 5, 7; the package's table, "
            "`evaluation.image_metrics.PUBLISHED`), in the standard metrics at the stimulus size that `evaluate` "
            "computes. "
            "This package has not reproduced it yet (no NSD data or weights here).", ""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="data/synthetic")
    parser.add_argument("--size", default="small", choices=["small", "tiny"])
    parser.add_argument("--out", default="docs", help="tutorial.md goes here, its figures in <out>/tutorial/")
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    root, out = Path(args.data_root), Path(args.out)
    figs = out / "tutorial"
    figs.mkdir(parents=True, exist_ok=True)
    md = ["# Tutorial: ridge-based brain decoding on a synthetic subject", "",
          "_Generated by `examples/tutorial.py` (`make tutorial`); every number and figure below comes from that "
          "run, and every code block is the code that ran._", ""]
    part, data = section_data(root, figs, args.size)
    md += part
    part, Y_train, Y_test = section_targets(root, data)
    md += part
    part, model = section_ridge(figs, data.train_betas, Y_train)
    md += part
    part, r = section_gcv(figs, model, data.test_betas, Y_test)
    md += part
    part, pred = section_decode(root, figs, data, model, Y_test)
    md += part
    md += section_scores(r, pred, Y_train, Y_test)
    md += section_ceiling(root, figs, data)
    md += section_own(root, data)
    md += section_nsd()
    md += [f"_This run took {time.perf_counter() - t_start:.0f} s._", ""]
    with atomic_path(out / "tutorial.md") as tmp:
        tmp.write_text("\n".join(md))
    print(f"written: {out / 'tutorial.md'} and {len(list(figs.glob('*.png')))} figures in {figs}")


if __name__ == "__main__":
    main()
