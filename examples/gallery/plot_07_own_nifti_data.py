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
# One 4-D NIfTI file per session, the ROI as a mask, the voxels' noise-ceiling SNR as a volume, ``trials.tsv`` (one
# row per volume: ``image``, ``split``, ``id``, ``session``) and a folder of PNG images. They are written once into
# the data home (``own_nifti``); a second run reuses them.
import csv
import re

import h5py
import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
from nilearn import plotting
from PIL import Image

import ridge_decode as rd

root = rd.fetch_synthetic()  # written once into the data home (about 20 s, 0.44 GB), then reused
nsd = rd.NSDSource(root, subject=1)
data = nsd.load(progress=False)
own = rd.get_data_home() / "own_nifti"
if not (own / "trials.tsv").exists():  # written last: its presence means the folder is complete
    own.mkdir(exist_ok=True)
    roi = nsd.grid()  # the nsdgeneral ROI: its grid is the one the voxels index
    xyz = tuple(data.voxel_xyz.T)
    mask = np.zeros(roi.shape, np.uint8)
    mask[xyz] = 1
    nib.save(nib.Nifti1Image(mask, roi.affine), own / "mask.nii")
    ncsnr = np.zeros(roi.shape, np.float32)
    ncsnr[xyz] = nsd.ncsnr()
    nib.save(nib.Nifti1Image(ncsnr, roi.affine), own / "ncsnr.nii")
    # NSD's per-session single-trial betas, in its file layout (nsddata_betas/.../betas_sessionNN.hdf5)
    sessions = {int(re.search(r"session(\d+)", p.name)[1]): p
                for p in root.glob("nsddata_betas/ppdata/subj01/*/*/betas_session*.hdf5")}
    design = rd.read_design(root / "nsddata/experiments/nsd/nsd_expdesign.mat")
    ids = rd.subject_trials(design, 1, 750 * max(sessions))[0]
    test = set(data.test_ids.tolist())
    rows = [["image", "split", "id", "session"]]
    for s, path in sorted(sessions.items()):
        with h5py.File(path, "r") as h:
            volumes = h["betas"][()].transpose(3, 2, 1, 0)  # NSD's HDF5 axes (trial, Z, Y, X) -> NIfTI's (X, Y, Z, t)
        nib.save(nib.Nifti1Image(volumes, roi.affine), own / f"betas_session{s:02d}.nii")
        rows += [[f"{i:05d}.png", "test" if i in test else "train", int(i), s] for i in ids[750 * (s - 1) : 750 * s]]
    (own / "images").mkdir(exist_ok=True)
    seen = np.union1d(data.train_ids, data.test_ids)
    for i, image in zip(seen, nsd.images().read(seen), strict=True):
        Image.fromarray(image).save(own / "images" / f"{i:05d}.png")
    with open(own / "trials.tsv", "w", newline="") as f:
        csv.writer(f, delimiter="\t").writerows(rows)
    print(f"wrote {sum(p.stat().st_size for p in own.rglob('*') if p.is_file()) / 1e6:.0f} MB to {own}")
print(sorted(p.name for p in own.iterdir()))

# %%
# Read back through the NIfTI source
# ----------------------------------
source = rd.NiftiSource(betas=sorted(own.glob("betas_session*.nii")), mask=own / "mask.nii",
                        trials=own / "trials.tsv", images=own / "images", ncsnr=own / "ncsnr.nii")
mine = source.load(progress=False)  # the same SubjectData an NSD subject gives
print("same images in both splits:", np.array_equal(mine.train_ids, data.train_ids)
      and np.array_equal(mine.test_ids, data.test_ids))
print(f"largest difference from the NSD loader's betas: {np.abs(mine.train_betas - data.train_betas).max():.1e}")

# %%
# The own subject's noise ceiling, on its slices
# ----------------------------------------------
# Read through the own-data path (``source.ncsnr()``: the ``ncsnr`` volume inside the mask), as a noise ceiling in
# percent of variance for 3 averaged trials, drawn with nilearn over the mask.
own_ncsnr = source.ncsnr()
ceiling = np.zeros(source.grid().shape, np.float32)
ceiling[tuple(mine.voxel_xyz.T)] = 100 * own_ncsnr**2 / (own_ncsnr**2 + 1 / 3)
print(f"median noise ceiling over the mask's {mine.n_voxels} voxels: {np.median(ceiling[ceiling > 0]):.1f}%")
display = plotting.plot_stat_map(nib.Nifti1Image(ceiling, source.grid().affine), bg_img=source.grid(),
                                 display_mode="z", cut_coords=5, cmap="hot", vmin=0, symmetric_cbar=False,
                                 threshold=1e-6, annotate=False, draw_cross=False, black_bg=False,
                                 title="own NIfTI subject: noise ceiling (% of variance, 3 trials)")
plt.show()

# %%
# From here every other example works unchanged with ``source``. On the command line, the same files (``DATA``:
# the data home, ``~/ridge_decode_data`` unless ``$RIDGE_DECODE_DATA`` names another):
# ``python scripts/fit.py --betas 'DATA/own_nifti/betas_session*.nii' --mask DATA/own_nifti/mask.nii --trials
# DATA/own_nifti/trials.tsv --images DATA/own_nifti/images --families pixels``.
#
# Exercises
# ---------
# 1. Delete one image from ``own / "images"`` and read the source again. What does it say? (Then run this example
#    again from the start after deleting ``own / "trials.tsv"``: it writes the folder anew.)
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# One line, before any work, measured with ``00044.png`` deleted: ``DataFileError: .../own_nifti/trials.tsv, column
# 'image': image '00044.png' is not in --images .../own_nifti/images``. The source checks every row of the table
# against the folder when it is read, so a fit stops there, not half way.
#
# .. raw:: html
#
#    </details>
