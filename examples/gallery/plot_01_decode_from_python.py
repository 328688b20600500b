"""
Decoding seen images, from Python
=================================

The whole chain in a notebook: a synthetic subject in NSD's file layout, its betas and image ids, the ``pixels``
targets of its images, a ridge from voxels to pixels with the regularisation chosen per pixel, and the decoded
images scored against the seen ones.
"""

# %%
# A subject to decode
# -------------------
# ``simulate`` writes a subject in exactly NSD's file layout (betas, the nsdgeneral ROI, the design, the stimuli),
# from a known encoding model. ``NSDSource`` reads it as it would read NSD; ``load`` gives one row per image (repeats
# averaged) and the image ids, split into training and test images as NSD's shared 1,000 are.
import numpy as np

import ridge_decode as rd

root = rd.simulate("data/synthetic_gallery", size="tiny", subjects=[1], progress=False)
source = rd.NSDSource(root, subject=1)
data = source.load(progress=False)
print(f"{len(data.train_ids)} training and {len(data.test_ids)} test images, {data.n_voxels} voxels")

# %%
# Targets, and the ridge
# ----------------------
# The targets are the images themselves at 32 x 32 pixels, cached by image id. ``OneStageRidge`` maps the
# standardised voxels to every pixel in one kernel solve, each pixel with its own alpha chosen by generalised
# cross-validation from the grid.
features = rd.extract_features(source, ["pixels"], progress=False)
model = rd.OneStageRidge().fit(data.train_betas, features.read("pixels", data.train_ids))
pred = model.predict(data.test_betas)
print(model, pred.shape, f"median alpha {np.median(model.alphas_['y']):.3g}")

# %%
# Decoded images, scored
# ----------------------
# The weight-free decoder turns the predicted pixels into images; ``score_images`` gives every metric available
# without model weights, the prediction first and the truth second.
seen = source.images().read(data.test_ids)
images = rd.decode_images({"pixels": pred}, "weight-free", size=seen.shape[1])
scores = rd.score_images(images, seen)
print({name: round(value, 3) for name, value in scores.items()})
fig = rd.plot_reconstructions(images[:8], seen[:8], data.test_ids[:8], title="seen (top), decoded (bottom)")
fig

# %%
# Exercises
# ---------
# 1. Fit again with ``alphas=np.logspace(5, 7, 3)``. What does the fit say, and why?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# It warns (``AlphaGridWarning``) that most pixels chose the smallest alpha of the grid: their best alpha is
# smaller than 1e5, outside the grid. ``model.fit_warnings_`` keeps the message; the fix is a wider grid.
#
# .. raw:: html
#
#    </details>
#
# 2. Is PixCorr above chance? Score the decoded images against the seen images in another order
#    (``seen[np.random.default_rng(0).permutation(len(seen))]``).
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# Run it: shuffled, PixCorr falls towards the correlation that any two images of this set have with each other
# (they share a layout); the gap to the matched score is what the voxels carry about each image.
#
# .. raw:: html
#
#    </details>
