"""
11. Decoding real fMRI: Kay et al. (2008), "vim-1"
==================================================

The classic natural-image fMRI experiment: one subject saw 1,750 training and 120 test grayscale photographs, and
8,428 voxels of V1, V2, V3, V3A, V3B, V4 and lateral occipital cortex (LatOcc) were measured for each (Kay,
Naselaris, Prenger and Gallant 2008, *Nature* 452: 352-355). Neuromatch Academy publishes them as one file,
``kay_images.npz`` (249 MB, OSF project ``ymnjv``). This example decodes the test images' pixels and a Gabor
energy description of them from the voxels, identifies each test image among the 120 (chance 1/120), and asks which
visual area carries what.

``fetch_kay2008`` puts it in the data home once (249 MB, its size and sha256 checked), or uses the copy in the
folder that ``RIDGE_DECODE_KAY_DIR`` names; ``ridge-decode fetch-kay2008`` downloads it from the command line.
Where the file can be neither read nor downloaded, the example stops at its first cell and says what is missing
and what provides it. **The real file has not been run through this example by its authors** (no machine of the
project reaches OSF): the code ran only on generated files of the same layout, so this page gives no number of
its own.
"""

# %%
# The data, as an own-data file
# -----------------------------
# ``fetch_kay2008`` returns the own-data HDF5 file: the paper's split, the images as 8-bit RGB, the betas, and each
# voxel's visual area (``voxel_roi``, an index into ``roi_names``), read here with h5py.
import h5py
import matplotlib.pyplot as plt
import numpy as np

import ridge_decode as rd

source = rd.HDF5Source(rd.fetch_kay2008())
data = source.load(progress=False)
with h5py.File(source.path) as f:
    areas, names = f["voxel_roi"][()], [n.decode() for n in f["roi_names"][()]]
rois = {name: np.flatnonzero(areas == i) for i, name in enumerate(names) if (areas == i).any()}
print(f"{data.n_voxels} voxels, {len(data.train_ids)} training and {len(data.test_ids)} test images")
print(", ".join(f"{name} {len(cols)}" for name, cols in rois.items()))

# %%
# Two descriptions of an image
# ----------------------------
# The package's ``pixels`` targets (each image at 32 x 32), and a Gabor energy description written here in a few
# lines, in the spirit of the paper's Gabor wavelet pyramid: for 3 spatial frequencies and 4 orientations, the
# energy of a quadrature pair of filters (the modulus of a one-sided filter's complex response), averaged over a
# grid of patches that is finer for finer frequencies: 4 x (4 x 4 + 8 x 8 + 16 x 16) = 1,344 numbers per image.
FREQS, GRIDS, N_ORIENT = (4, 8, 16), (4, 8, 16), 4  # cycles per image, patches per side, orientations


def gabor_energy(gray, batch=100):
    """(n, H, W) gray images in [0, 1] -> (n, 1344) float32: log(1 + energy) per frequency, orientation, patch."""
    n, h, w = gray.shape
    fy, fx = np.fft.fftfreq(h)[:, None] * h, np.fft.fftfreq(w)[None, :] * w  # cycles per image
    out = np.empty((n, N_ORIENT * sum(g * g for g in GRIDS)), np.float32)
    for start in range(0, n, batch):
        x = gray[start:start + batch]
        spectrum = np.fft.fft2(x - x.mean(axis=(1, 2), keepdims=True))
        cols = []
        for f, g in zip(FREQS, GRIDS, strict=True):
            for k in range(N_ORIENT):
                theta = np.pi * k / N_ORIENT
                u, v = fx * np.cos(theta) + fy * np.sin(theta), -fx * np.sin(theta) + fy * np.cos(theta)
                band = np.exp(-((u - f) ** 2 + v**2) / (2 * (f / 2.5) ** 2))  # about one octave wide
                energy = np.abs(np.fft.ifft2(spectrum * band))
                cols.append(energy.reshape(len(x), g, h // g, g, w // g).mean(axis=(2, 4)).reshape(len(x), -1))
        out[start:start + batch] = np.log1p(np.concatenate(cols, axis=1))
    return out


def identify(pred, true):
    """Share of images whose prediction correlates best with their own target among all (chance 1 / n)."""
    p = (pred - pred.mean(1, keepdims=True)) / pred.std(1, keepdims=True)
    t = (true - true.mean(1, keepdims=True)) / true.std(1, keepdims=True)
    return float(np.mean((p @ t.T).argmax(axis=1) == np.arange(len(p))))


features = rd.extract_features(source, ["pixels"], progress=False)
Y = {"pixels": (features.read("pixels", data.train_ids), features.read("pixels", data.test_ids))}
images = source.images()
gray = {split: images.read(ids)[..., 0] / 255.0 for split, ids in (("train", data.train_ids),
                                                                     ("test", data.test_ids))}
Y["gabor"] = (gabor_energy(gray["train"]), gabor_energy(gray["test"]))

# %%
# Decoding, and identification among the test images
# --------------------------------------------------
# ``OneStageRidge`` standardises the voxels and chooses an alpha per target by GCV. Each test image's decoded
# description is compared with the true descriptions of all test images; the image is identified when its own is
# the most correlated.
alphas = np.logspace(0, 8, 17)
n_test = len(data.test_ids)
results = {}
for name, (y_train, y_test) in Y.items():
    pred = rd.OneStageRidge(alphas=alphas).fit(data.train_betas, y_train).predict(data.test_betas)
    pred, truth = pred.reshape(n_test, -1), y_test.reshape(n_test, -1)
    results[name] = pred
    print(f"{name:>6}: mean r {np.nanmean(rd.columnwise_r(pred, truth)):.3f}, identified "
          f"{identify(pred, truth):.1%} of {n_test} (chance {1 / n_test:.1%}), two-way "
          f"{rd.two_way_identification(pred, truth):.3f}")

# %%
# What the voxels say about the pixels
# ------------------------------------
seen = images.read(data.test_ids[:10])
decoded = rd.decode_images({"pixels": results["pixels"][:10].reshape(10, 32, 32, 3)}, "weight-free",
                           size=seen.shape[1])
fig = rd.plot_reconstructions(decoded, seen, data.test_ids[:10],
                              title="test images (top), decoded from the voxels (bottom)")
fig

# %%
# Which area carries what
# -----------------------
# The same Gabor decoding from the voxels of one area at a time. Areas differ in size (V3B has a few hundred
# voxels, V2 about two thousand), which matters as much as what they encode: the last exercise asks how much.
per_roi = {}
for name in ("V1", "V2", "V3", "V4", "LatOcc"):
    cols = rois[name]
    model = rd.OneStageRidge(alphas=alphas).fit(data.train_betas[:, cols], Y["gabor"][0])
    per_roi[name] = identify(model.predict(data.test_betas[:, cols]), Y["gabor"][1])
    print(f"{name:>6}: {len(cols):5d} voxels, identified {per_roi[name]:.1%}")
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
ax.bar(list(per_roi), [100 * v for v in per_roi.values()], color="tab:blue")
ax.axhline(100 / n_test, color="grey", ls=":", label=f"chance (1/{n_test})")
ax.axhline(100 * 110 / 120, color="tab:red", ls="--", label="Kay et al. 2008, subject S1, all areas")
ax.set(ylabel="test images identified (%)", ylim=(0, 100), title="Gabor energy decoded from one area")
ax.legend(loc="upper right", fontsize=8)
fig

# %%
# Beside the published result
# ---------------------------
# Kay et al. identified 110 of the 120 test images (92%) for subject S1, with an *encoding* model: a Gabor wavelet
# pyramid fitted to each voxel predicted the responses to every candidate image, and the image whose predicted
# responses best matched the measured ones was chosen. Here the direction is reversed (the voxels predict the
# image's description, which is matched against the candidates') and the description is much coarser, so the two
# numbers answer related but different questions. The course's copy does not say which of the paper's two subjects
# it holds.
#
# Exercises
# ---------
# 1. Identification uses correlation across the 1,344 Gabor numbers. Replace it by the Euclidean distance
#    (``argmin`` of ``np.linalg.norm(pred[:, None] - truth[None], axis=2)``). Which works better, and why might
#    standardised patterns be the fairer comparison?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# Not measured here: the real file has not been run through this example. Correlation ignores each prediction's
# overall scale and offset; ridge shrinks predictions towards the training mean, so the distance from a shrunken
# prediction is smallest to the most average-looking image, whatever was seen. Run both and compare the two shares.
#
# .. raw:: html
#
#    </details>
#
# 2. Is V1 better than V4 only because it has fewer or more voxels? Draw 300 voxels at random from each area
#    (``np.random.default_rng(0).choice(rois[name], 300, replace=False)``) and decode again.
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# Not measured here (no real data). With equal counts, what remains is what each area encodes: the Gabor
# description is a low-level one, closest to V1's receptive fields, so the expectation is that early areas keep
# their lead. A repeat over several random draws shows how much of the difference is the draw.
#
# .. raw:: html
#
#    </details>
