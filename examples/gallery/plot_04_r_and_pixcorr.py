"""
4. Two ways to score: r per target, and PixCorr
===============================================

The fit is scored per **target**: for one pixel, the correlation across test images between its predicted and
true values. Reconstructions are scored per **image**: **PixCorr** correlates one image's predicted pixels with its
true ones, across the pixels, then averages over images. They answer different questions and can disagree
completely; two simple predictions show it.
"""

# %%
# The fitted ridge, and two predictions that know nothing of the voxels
# ---------------------------------------------------------------------
# The mean training image is the same picture for every test image: it cannot say which image was seen. A flat
# grey at each test image's true mean brightness has no pattern within an image.
from pathlib import Path

import numpy as np

import ridge_decode as rd

root = Path("data/synthetic")
if not (root / "synthetic.json").exists():
    rd.simulate(root, size="small", subjects=(1, 2), progress=False)
source = rd.NSDSource(root, subject=1)
data = source.load(progress=False)
features = rd.extract_features(source, ["pixels"], progress=False)
Y_train, Y_test = features.read("pixels", data.train_ids), features.read("pixels", data.test_ids)
pred = rd.OneStageRidge().fit(data.train_betas, Y_train).predict(data.test_betas)

mean_image = np.broadcast_to(Y_train.mean(0), Y_test.shape)
flat = np.broadcast_to(Y_test.mean((1, 2, 3), keepdims=True), Y_test.shape)
n = len(Y_test)
print(f"{'prediction':<44}{'mean r per target':>20}{'PixCorr at 32 px':>18}")
for name, p in (("the fitted ridge", pred), ("the mean training image, for every image", mean_image),
                ("each image's true brightness, as flat grey", flat)):
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.nan_to_num(rd.columnwise_r(p.reshape(n, -1), Y_test.reshape(n, -1)))  # a constant: r counted as 0
        pixcorr = np.nan_to_num(rd.columnwise_r(p.reshape(n, -1).T, Y_test.reshape(n, -1).T)).mean()
    print(f"{name:<44}{r.mean():>20.3f}{pixcorr:>18.3f}")

# %%
# Read both: the mean image gets a PixCorr well above 0 (the images share a layout) with r 0; the flat grey gets a
# mean r above 0 (every pixel follows the image's brightness) with PixCorr 0.
#
# Two-way identification
# ----------------------
# Does each reconstruction correlate more with its own image than with another test image? Chance is 0.5.
flat_pred, flat_true = pred.reshape(n, -1), Y_test.reshape(n, -1)
shuffled = flat_pred[np.random.default_rng(0).permutation(n)]
print(f"two-way identification: {rd.two_way_identification(flat_pred, flat_true):.3f}, "
      f"shuffled {rd.two_way_identification(shuffled, flat_true):.3f}")

# %%
# The PixCorr here is between 32 x 32 thumbnails. The standard NSD metric is computed at the stimulus size
# (``score_images``, ``ridge-decode evaluate``), and only that one may stand beside the published tables.
#
# Exercises
# ---------
# 1. Predict the mean training image plus a tiny noise (``mean_image + 1e-3 * rng.standard_normal(...)``). What
#    happens to its mean r per target?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# It becomes a defined but meaningless correlation around 0: the noise is unrelated to the images. A score of 0
# and a score that is not defined are different things; the package counts an undefined r as undefined in
# ``summary.json`` and says how many.
#
# .. raw:: html
#
#    </details>
