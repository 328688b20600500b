"""
10. Decoding from real neural data: macaque V4
==============================================

Real responses to natural images: spike counts of 89 V4 neurons of a macaque to 1,200 natural images (Cowley, Stan,
Pillow and Smith 2023, GPL-3.0). The package's own-data path and ridge run on them unchanged, beside a plain
scikit-learn ridge on the same data. These are neurons, not fMRI voxels: the example shows the decoding chain on
real noise, not how well NSD will decode.
"""

# %%
# The data, as an own-data file
# -----------------------------
# ``fetch_macaque_v4`` downloads a session's two files from the data's public repository into the data home, once
# (a folder named by ``RIDGE_DECODE_V4_DIR`` that already holds them is used as it is, with no download), and
# writes them as one own-data HDF5 file, each neuron a column of the betas, the last 200 images held out. Where the
# files can be neither read nor downloaded, it stops here and says which files are missing and how to provide them.
import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ridge_decode as rd

source = rd.HDF5Source(rd.fetch_macaque_v4("201025"))
data = source.load(progress=False)
print(f"{data.n_voxels} neurons, {len(data.train_ids)} training and {len(data.test_ids)} held-out images")

# %%
# Two ridges, the same targets
# ----------------------------
# The targets are each image's 32 x 32 pixels. ``OneStageRidge`` standardises the neurons and chooses an alpha per
# pixel by GCV; the reference is scikit-learn's ``StandardScaler`` and ``RidgeCV`` with an alpha per target
# (efficient leave-one-out), with the same alphas.
features = rd.extract_features(source, ["pixels"], progress=False)
y_train, y_test = features.read("pixels", data.train_ids), features.read("pixels", data.test_ids)
alphas = np.logspace(-2, 6, 17)
ours = rd.OneStageRidge(alphas=alphas).fit(data.train_betas, y_train).predict(data.test_betas)
reference = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, alpha_per_target=True))
theirs = reference.fit(data.train_betas, y_train.reshape(len(y_train), -1)).predict(data.test_betas)

n = len(y_test)
for name, pred in (("ridge_decode", ours), ("scikit-learn", theirs)):
    flat = pred.reshape(n, -1)
    r = np.nanmean(rd.columnwise_r(flat, y_test.reshape(n, -1)))
    print(f"{name:>12}: mean held-out r {r:.4f}, pixel two-way identification "
          f"{rd.two_way_identification(flat, y_test.reshape(n, -1)):.3f}")

# %%
# What the neurons say about the images
# -------------------------------------
# Run as a script, the figure is written into the ``figures`` folder of the data home.
seen = source.images().read(data.test_ids[:10])
decoded = rd.decode_images({"pixels": ours[:10]}, "weight-free", size=seen.shape[1])
figures = rd.get_data_home() / "figures"
figures.mkdir(exist_ok=True)
fig = rd.plot_reconstructions(decoded, seen, data.test_ids[:10], title="held-out images (top), decoded (bottom)",
                              path=figures / "10_macaque_v4.png")
print(f"written: {figures / '10_macaque_v4.png'}")
fig

# %%
# Exercises
# ---------
# 1. Decode with half the neurons (``data.train_betas[:, ::2]``). How much r is lost?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# Measured on this session: mean r falls from 0.468 to 0.410, an eighth, not a half: much of what one neuron says
# about the pixels, another says too.
#
# .. raw:: html
#
#    </details>
#
# 2. Which pixels are decoded best? Reshape the per-target r to (32, 32, 3) and look at it as an image.
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# ``rd.columnwise_r(flat, y_test.reshape(n, -1)).reshape(32, 32, 3)``. Measured on this session: r is not uniform
# over the image, 0.573 in the top-left quadrant against 0.362 in the bottom-right, and by channel blue (0.517) is
# decoded better than green (0.479) and red (0.408).
#
# .. raw:: html
#
#    </details>
