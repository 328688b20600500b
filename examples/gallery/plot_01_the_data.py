"""
1. The data: a synthetic subject in NSD's layout
================================================

Everything in this gallery but the last examples runs on a **simulated** subject: it is written in seconds, and its
truth is known. ``simulate`` writes files in exactly the layout of the Natural Scenes Dataset (NSD): per-session
betas (percent signal change x 300, int16), the nsdgeneral ROI, the experiment design, the stimuli and captions;
the package's NSD loader reads them unchanged. How the responses are made:

- **stimuli**: every image is its own dead-leaves composition of patches of real photographs;
- **voxels**: each has a position ``t`` along the visual hierarchy. Early voxels respond to the image in a small
  receptive field; late ones read out a latent of the image's content whose variance falls as a power law;
- **noise**: trial noise with a signal-to-noise ratio per voxel that falls along the hierarchy as NSD's does, and a
  gain and offset per session. The default preset makes it about as hard to decode as NSD.
"""

# %%
# One subject's data
# ------------------
# A subject sees images, one per trial, 750 trials a session. Each trial gives one **beta** per voxel (the response
# amplitude). Images are shown up to three times and repeats are averaged, so each image is one row. The images
# every subject saw (NSD's shared 1,000) are the **test** set.
import matplotlib.pyplot as plt
import numpy as np

import ridge_decode as rd

# run as a script (in a terminal or headless), each figure is also written as a PNG into the data home
figures = rd.get_data_home() / "figures"
figures.mkdir(exist_ok=True)

root = rd.fetch_synthetic()  # written once into the data home (about 20 s, 0.44 GB), then reused
data = rd.NSDSource(root, subject=1).load(progress=False)
print(f"{data.n_voxels} voxels in the ROI; {len(data.train_ids)} training and {len(data.test_ids)} test images")
print(f"betas: {data.train_betas.shape} {data.train_betas.dtype}; mean repeats per training image "
      f"{data.train_repeats.mean():.2f}")

# %%
# Which image each trial showed
# -----------------------------
# The experiment design says, trial by trial, which of the 73,000 image ids was shown; the test images recur.
design = rd.read_design(root / "nsddata/experiments/nsd/nsd_expdesign.mat")
trials = rd.subject_trials(design, 1, 750)[0]
is_test = np.isin(trials, data.test_ids)
fig, ax = plt.subplots(figsize=(8, 2.8), layout="constrained")
ax.scatter(np.flatnonzero(~is_test), trials[~is_test], s=2, label="training images")
ax.scatter(np.flatnonzero(is_test), trials[is_test], s=4, c="C3", label="shared (test) images")
ax.set(xlabel="trial in session 1", ylabel="73k image id", title="session 1: which image each trial showed")
ax.legend(fontsize=7, markerscale=3)
fig.savefig(figures / "01_design.png")
plt.show()  # a notebook shows the figure here; `python plot_01_the_data.py` opens it in a window

# %%
# Exercises
# ---------
# 1. How many times was each test image shown, on average? (``data.test_repeats``)
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# ``data.test_repeats.mean()``: 3.0, as for the training images (this subject saw every image three times, as in
# NSD's full design). The shared images are the test set because every subject saw them, so the same images score
# every subject, not because they were shown more often.
#
# .. raw:: html
#
#    </details>
