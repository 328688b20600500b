"""Where in the brain is the decoded information? Brain maps of a synthetic subject, against the planted answer.

The simulator places every voxel along a visual hierarchy (``t``: 0 early, 1 late): early voxels see the image's
local luminance and contrast, late ones read out a latent of the image's content. This example maps, per voxel, the
noise ceiling, how well pixels and the planted latent each predict the voxel (the ridge engine run from features to
voxels), which of the two explains more, and the activation pattern of the fitted pixel decoder; then it checks the
share map against the planted hierarchy with a Spearman correlation.

    python examples/brain_maps.py --data-root data/synthetic --out maps/synthetic     # after `make demo`
"""

import argparse
from pathlib import Path

import h5py
import nibabel as nib
from scipy.stats import spearmanr

import ridge_decode as rd

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data-root", default="data/synthetic")
parser.add_argument("--model-dir", default="results/model/subj01", help="a pixel fit of subject 1 (make demo's)")
parser.add_argument("--out", default="maps/synthetic")
args = parser.parse_args()

source = rd.NSDSource(args.data_root, subject=1)
with h5py.File(Path(args.data_root) / "nsddata/ppdata/subj01/synthetic_ground_truth.h5") as f:
    hierarchy, latent, latent_ids = f["encoding/hierarchy"][()], f["latent"][()], f["signal_ids"][()]

model_dir = args.model_dir if (Path(args.model_dir) / "model.h5").exists() else None
maps = rd.brain_maps(source, ["pixels"], model_dir=model_dir, out=args.out,
                     extra={"latent": latent}, extra_ids=latent_ids)
# the maps are NIfTI files in the subject's grid: read one back, as any neuroimaging tool would
xyz = source.data(progress=False).voxel_xyz
volume = nib.load(maps.folder / "share_pixels_vs_latent.nii.gz").get_fdata()
share = volume[xyz[:, 0], xyz[:, 1], xyz[:, 2]]
rho = spearmanr(share, -hierarchy).correlation
print(f"maps in {maps.folder}: {', '.join(sorted(maps.summary['maps']))}")
print(f"Spearman correlation of 'pixels explain this voxel better than the latent' with earliness: {rho:.3f}")
