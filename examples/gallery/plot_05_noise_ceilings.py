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
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import numpy as np

import ridge_decode as rd
from ridge_decode.sources.nsd_files import read_noise_ceiling

EARLY = 0.5  # hierarchy position below which the simulator's voxels are early

root = Path("data/synthetic")
if not (root / "synthetic.json").exists():
    rd.simulate(root, size="small", subjects=(1, 2), progress=False)
data = rd.NSDSource(root, subject=1).load(progress=False)
nc = read_noise_ceiling(1, root, n_repeats=3.0)  # % of each voxel's variance that repeats
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

# %%
# Decoding pools many noisy voxels, so a target's r is not bounded by one voxel's ceiling; but the ceiling says
# where the information is: ``python scripts/fit.py --min-nc 10`` keeps only the voxels above 10%.
#
# Exercises
# ---------
# 1. Fit the pixels with only the voxels above a 10% ceiling (``data.train_betas[:, nc >= 10]``). Does the held-out
#    r change much?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# Run it and compare with example 3's r. Dropping voxels whose variance is nearly all noise removes little
# information, and ridge already weighs noisy voxels down; a large change would mean the threshold cut signal.
#
# .. raw:: html
#
#    </details>
