"""
6. Decoding images, and scoring them
====================================

The fitted model predicts the targets of the test images from their betas alone; the weight-free decoder turns the
predicted pixels into pictures, beside the best this decoder could ever return (the 32 x 32 target itself).
"""

# %%
# From betas to pictures
# ----------------------
# The package's figures (``rd.plot_*``) return a matplotlib Figure: a notebook shows it where a cell ends with it;
# run as a script, this example writes them as PNG files into the ``figures`` folder of the data home (``path=``)
# and prints where.
import ridge_decode as rd

root = rd.fetch_synthetic()  # written once into the data home (about 20 s, 0.44 GB), then reused
figures = rd.get_data_home() / "figures"
figures.mkdir(exist_ok=True)
source = rd.NSDSource(root, subject=1)
data = source.load(progress=False)
features = rd.extract_features(source, ["pixels"], progress=False)
Y_train, Y_test = features.read("pixels", data.train_ids), features.read("pixels", data.test_ids)
model = rd.OneStageRidge().fit(data.train_betas, Y_train)
pred = model.predict(data.test_betas)  # (test images, 32, 32, 3)

seen = source.images().read(data.test_ids)
decoded = rd.decode_images({"pixels": pred}, "weight-free", size=seen.shape[1])
best = rd.decode_images({"pixels": Y_test}, "weight-free", size=seen.shape[1])
per_image = rd.columnwise_r(pred.reshape(len(pred), -1).T, Y_test.reshape(len(Y_test), -1).T)  # PixCorr at 32 px
fig = rd.plot_reconstructions(decoded[:8], seen[:8], data.test_ids[:8], scores=per_image[:8],
                              title="seen (top), decoded (bottom), with each image's PixCorr at 32 px",
                              path=figures / "06_decoded.png")
print(f"written: {figures / '06_decoded.png'}")
fig

# %%
# The best possible row: the targets themselves, upsampled. The decoded thumbnails keep the coarsest layout and
# colour of each image, far from it: these noisy voxels carry little of the finer structure.
fig = rd.plot_reconstructions(best[:8], seen[:8], data.test_ids[:8], title="seen (top), the 32 x 32 target (bottom)",
                              labels=("seen", "target"), path=figures / "06_best_possible.png")
print(f"written: {figures / '06_best_possible.png'}")
fig

# %%
# Scores at the stimulus size
# ---------------------------
# ``score_images`` gives every metric available without model weights (PixCorr and SSIM at the stimulus size, the
# standard NSD ones), the prediction first and the truth second; with ``weights_root`` it adds the six network
# metrics.
print({name: round(value, 3) for name, value in rd.score_images(decoded, seen).items()})

# %%
# Exercises
# ---------
# 1. Fit again with ``alphas=[1e5, 1e6, 1e7]``. What does the fit say, and why?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# It warns (``AlphaGridWarning``), measured: "100% of the targets of 'y' chose the smallest alpha (1e+05): the best
# may be smaller: widen the grid". Their best alpha lies below the grid (example 3's median choice was about 6e3).
# ``model.fit_warnings_`` keeps the message; the fix is a wider grid.
#
# .. raw:: html
#
#    </details>
#
# 2. Score the decoded images against the seen images in another order
#    (``seen[np.random.default_rng(0).permutation(len(seen))]``). What is left of PixCorr, and of SSIM?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# Measured: PixCorr falls from 0.270 to 0.054, while SSIM barely moves, from 0.176 to 0.162. The little PixCorr
# left is what any two images of this set share (their layout); the gap to the matched score is what the voxels
# carry about each image. SSIM hardly tells the right image from a wrong one here: it rewards the blur and the
# average structure that a weak reconstruction shares with every image. Score with more than one metric, and
# against a shuffled baseline.
#
# .. raw:: html
#
#    </details>
