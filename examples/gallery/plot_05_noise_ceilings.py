"""
5. The noise ceiling, early against late voxels
===============================================

How good could decoding possibly be? Each voxel's response is signal plus trial noise. NSD ships a signal-to-noise
ratio ``ncsnr`` per voxel; the simulator planted one and wrote it in the same file. The noise ceiling, the share of
a voxel's variance that repeats, is ``100 ncsnr^2 / (ncsnr^2 + 1/n)`` for n averaged trials.
"""

# %%
# Ceilings along the planted hierarchy
# ------------------------------------
# The synthetic subject's ground truth gives each voxel's position ``t`` along the hierarchy; NSD's ceilings fall
# from V1 (37%) and V2 (31%) to V4 (26%) and IT (10%) (Allen et al. 2022), and the default preset plants the same.
import h5py
import matplotlib.pyplot as plt
import numpy as np

import ridge_decode as rd

# run as a script (in a terminal or headless), each figure is also written as a PNG into the data home
figures = rd.get_data_home() / "figures"
figures.mkdir(exist_ok=True)

EARLY = 0.5  # hierarchy position below which the simulator's voxels are early

root = rd.fetch_synthetic()  # written once into the data home (about 20 s, 0.44 GB), then reused
source = rd.NSDSource(root, subject=1)
data = source.load(progress=False)
ncsnr = source.ncsnr()  # (voxels,), in the loader's voxel order
nc = 100 * ncsnr**2 / (ncsnr**2 + 1 / 3)  # % of each voxel's variance that repeats, 3 averaged trials
with h5py.File(root / "nsddata/ppdata/subj01/synthetic_ground_truth.h5") as f:
    xyz, t = f["encoding/voxel_xyz"][()], f["encoding/hierarchy"][()]
order = {tuple(v): k for k, v in enumerate(xyz.tolist())}
t = t[[order[tuple(v)] for v in data.voxel_xyz.tolist()]]  # in the loader's voxel order
early, late = nc[t < EARLY], nc[t >= EARLY]
print(f"median noise ceiling: early voxels {np.median(early):.1f}%, late voxels {np.median(late):.1f}%")

fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
bins = np.linspace(0, max(nc.max(), 1.0), 40)
ax.hist(early, bins=bins, alpha=0.6, label=f"early voxels (t < {EARLY})")
ax.hist(late, bins=bins, alpha=0.6, label=f"late voxels (t >= {EARLY})")
ax.set(xlabel="noise ceiling (% of variance, 3 repeats)", ylabel="voxels", title="voxel noise ceilings")
ax.legend(fontsize=7)
fig.savefig(figures / "05_noise_ceilings.png")
plt.show()

# %%
# Decoding pools many noisy voxels, so a target's r is not bounded by one voxel's ceiling; but the ceiling says
# where the information is: ``python scripts/fit.py --min-nc 10`` keeps only the voxels above 10%.
#
# Exercises
# ---------
# 1. Fit the pixels with only the voxels above a 10% ceiling (``data.train_betas[:, nc >= 10]``), then 20% and 30%.
#    Does the held-out r change?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# Yes, it rises. Measured on this subject (``rd.OneStageRidge()``, mean held-out r over the 3,072 pixels): all
# 3,000 voxels 0.383; above 10% (2,359 voxels) 0.392; above 20% (1,478) 0.397; above 30% (892) 0.402.
# Ridge does not weigh noisy voxels down: the voxels are standardised first, so in ``K = Xs Xs^T`` a voxel that
# is nearly all noise counts as fully as one that carries signal, and the noise voxels blur the similarities
# between images that the kernel measures. Dropping them raises the share of signal in ``K``; a threshold high
# enough to cut voxels that carry signal would lower r again.
#
# .. raw:: html
#
#    </details>
