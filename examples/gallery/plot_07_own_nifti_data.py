"""
7. Your own data: NIfTI betas with a mask
=========================================

A lab's single-trial GLM (GLMsingle, nilearn's first-level models) gives 4-D NIfTI betas, one volume per trial.
With a mask, a table of trials and the images, the package reads them through nilearn's ``NiftiMasker``. To see
that it is the same thing, this example writes the synthetic subject as a lab would have it, then reads it back.
"""

# %%
# The subject, as a lab's files
# -----------------------------
# One 4-D NIfTI file per session, the ROI as a mask, ``trials.tsv`` (one row per volume: ``image``, ``split``,
# ``id``, ``session``) and a folder of PNG images.
import csv
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
from PIL import Image

import ridge_decode as rd
from ridge_decode.sources.manifest import entry_path
from ridge_decode.sources.nsd_files import betas_path, present_sessions, read_design, subject_trials

root = Path("data/synthetic")
if not (root / "synthetic.json").exists():
    rd.simulate(root, size="small", subjects=(1, 2), progress=False)
nsd = rd.NSDSource(root, subject=1)
data = nsd.load(progress=False)
own = Path("data/own")
own.mkdir(parents=True, exist_ok=True)
roi = nib.load(str(entry_path("nsdgeneral", root, 1)))
nib.save(nib.Nifti1Image((np.asarray(roi.dataobj) > 0).astype(np.uint8), roi.affine), own / "mask.nii")
sessions = present_sessions(root, 1, "hdf5")
test = set(data.test_ids.tolist())
ids = subject_trials(read_design(root / "nsddata/experiments/nsd/nsd_expdesign.mat"), 1, 750 * max(sessions))[0]
with open(own / "trials.tsv", "w", newline="") as f:
    rows = csv.writer(f, delimiter="\t")
    rows.writerow(["image", "split", "id", "session"])
    for s in sessions:
        with h5py.File(betas_path(root, 1, s, "hdf5"), "r") as h:
            volumes = h["betas"][()].transpose(3, 2, 1, 0)  # NSD's HDF5 axes (trial, Z, Y, X) -> NIfTI's (X, Y, Z, t)
        nib.save(nib.Nifti1Image(volumes, roi.affine), own / f"betas_session{s:02d}.nii")
        for i in ids[750 * (s - 1) : 750 * s]:
            rows.writerow([f"{i:05d}.png", "test" if i in test else "train", int(i), s])
(own / "images").mkdir(exist_ok=True)
seen = np.union1d(data.train_ids, data.test_ids)
for i, image in zip(seen, nsd.images().read(seen), strict=True):
    Image.fromarray(image).save(own / "images" / f"{i:05d}.png")
print(sorted(p.name for p in own.iterdir()))

# %%
# Read back through the NIfTI source
# ----------------------------------
source = rd.NiftiSource(betas=sorted(own.glob("betas_session*.nii")), mask=own / "mask.nii",
                        trials=own / "trials.tsv", images=own / "images")
mine = source.load(progress=False)  # the same SubjectData an NSD subject gives
print("same images in both splits:", np.array_equal(mine.train_ids, data.train_ids)
      and np.array_equal(mine.test_ids, data.test_ids))
print(f"largest difference from the NSD loader's betas: {np.abs(mine.train_betas - data.train_betas).max():.1e}")

# %%
# From here every other example works unchanged with ``source``. On the command line, the same files:
# ``python scripts/fit.py --betas 'data/own/betas_session*.nii' --mask data/own/mask.nii --trials
# data/own/trials.tsv --images data/own/images --targets pixels``.
#
# Exercises
# ---------
# 1. Delete one image from ``data/own/images`` and read the source again. What does it say?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# One line, before any work: ``trials.tsv, column 'image': image '00044.png' is not in --images data/own/images``
# (for whichever image was deleted). Every bad input is stopped by the one validation pass a fit runs.
#
# .. raw:: html
#
#    </details>
