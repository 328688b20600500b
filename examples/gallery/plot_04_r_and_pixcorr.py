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
import matplotlib.pyplot as plt
import numpy as np

import ridge_decode as rd

# run as a script (in a terminal or headless), each figure is also written as a PNG into the data home
figures = rd.get_data_home() / "figures"
figures.mkdir(exist_ok=True)

root = rd.fetch_synthetic()  # written once into the data home (about 20 s, 0.44 GB), then reused
source = rd.NSDSource(root, subject=1)
data = source.load(progress=False)
features = rd.extract_features(source, ["pixels"], progress=False)
Y_train, Y_test = features.read("pixels", data.train_ids), features.read("pixels", data.test_ids)
pred = rd.OneStageRidge().fit(data.train_betas, Y_train).predict(data.test_betas)

mean_image = np.broadcast_to(Y_train.mean(0), Y_test.shape)
flat = np.broadcast_to(Y_test.mean((1, 2, 3), keepdims=True), Y_test.shape)
n = len(Y_test)
predictions = {"the fitted ridge": pred, "the mean training image, for every image": mean_image,
               "each image's true brightness, as flat grey": flat}
r, pixcorr = {}, {}
for name, p in predictions.items():
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant has no correlation: NaN, kept as NaN
        r[name] = rd.columnwise_r(p.reshape(n, -1), Y_test.reshape(n, -1))  # per target, across images
        pixcorr[name] = rd.columnwise_r(p.reshape(n, -1).T, Y_test.reshape(n, -1).T)  # per image, across pixels


def mean_of_defined(values):
    """The mean over the defined values, and how many are undefined."""
    undefined = int(np.isnan(values).sum())
    return ("undefined" if undefined == values.size else f"{np.nanmean(values):.3f}"), undefined


print(f"{'prediction':<44}{'mean r per target':>20}{'PixCorr at 32 px':>18}")
for name in predictions:
    (r_mean, r_nan), (pc_mean, pc_nan) = mean_of_defined(r[name]), mean_of_defined(pixcorr[name])
    print(f"{name:<44}{r_mean:>20}{pc_mean:>18}    undefined: r {r_nan} of {r[name].size} targets, "
          f"PixCorr {pc_nan} of {n} images")

# %%
# Read both: the mean image gets a PixCorr well above 0 (the images share a layout) while its r is undefined for
# every target (it is the same for every image: a constant has no correlation); the flat grey gets a mean r above 0
# (every pixel follows the image's brightness) while its PixCorr is undefined for every image (no pattern within
# an image). Undefined is not 0: the scores keep it as NaN and count it. Per target and per image:
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
colors = dict(zip(predictions, ("C0", "C1", "C2"), strict=True))
for name in predictions:
    for ax, values, unit in ((ax1, r[name], "targets"), (ax2, pixcorr[name], "images")):
        defined = values[np.isfinite(values)]
        if defined.size:
            ax.hist(defined, bins=40, range=(-0.4, 1), alpha=0.6, color=colors[name], label=name)
        else:
            ax.plot([], [], color=colors[name], label=f"{name}: undefined for all {values.size} {unit}")
ax1.set(xlabel="r of one target (a pixel), across the test images", ylabel="targets", title="r per target")
ax2.set(xlabel="PixCorr of one image, across its pixels", ylabel="images", title="PixCorr per image")
for ax in (ax1, ax2):
    ax.legend(fontsize=7, loc="upper left")
fig.savefig(figures / "04_r_and_pixcorr.png")
plt.show()

# %%
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
# It becomes defined, for all 3,072 targets (none undefined), and meaningless: measured with
# ``rng = np.random.default_rng(0)``, a mean r of 0.000, the targets' r spread from -0.235 to 0.315 (standard
# deviation 0.081), all chance, since the noise is unrelated to the images. A score of 0 and a score that is not
# defined are different things: the table above keeps an undefined r as NaN and counts it, as the package's
# ``summary.json`` does.
#
# .. raw:: html
#
#    </details>
