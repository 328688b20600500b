"""
8. A new subject with little data: transfer
===========================================

A new subject with few training images fits poorly from scratch. The shared space of a reference subject, the
principal directions of its fitted targets, can be frozen and reused: the new subject then fits only a small
output layer, from its voxels to the coordinates in that space.
"""

# %%
# A reference subject, and its frozen space
# -----------------------------------------
from pathlib import Path

import numpy as np

import ridge_decode as rd
from ridge_decode.ridge.shared_space import SharedSpace, TransferRidge

root = Path("data/synthetic")
if not (root / "synthetic.json").exists():
    rd.simulate(root, size="small", subjects=(1, 2), progress=False)
reference = rd.NSDSource(root, subject=1).load(progress=False)
new_source = rd.NSDSource(root, subject=2)
new = new_source.load(progress=False)
features = rd.extract_features(new_source, ["pixels"], progress=False)  # the same images, one cache
ref_model = rd.OneStageRidge().fit(reference.train_betas,
                                   {"pixels": features.read("pixels", reference.train_ids)})
shared = SharedSpace.from_reference(ref_model, reference.train_betas, rank=64)
print(f"shared space: {shared.basis_['pixels'].shape[1]} directions of {shared.basis_['pixels'].shape[0]} targets")

# %%
# The new subject, from a few images
# ----------------------------------
y_test = features.read("pixels", new.test_ids)
for fraction in (0.05, 0.25, 1.0):
    rows = np.sort(np.random.default_rng(0).permutation(len(new.train_ids))[: int(fraction * len(new.train_ids))])
    y = {"pixels": features.read("pixels", new.train_ids[rows])}
    scores = {}
    for name, model in (("transfer", TransferRidge(shared)), ("scratch", rd.OneStageRidge())):
        pred = model.fit(new.train_betas[rows], y).predict(new.test_betas)["pixels"]
        scores[name] = np.nanmean(rd.columnwise_r(pred.reshape(len(pred), -1), y_test.reshape(len(y_test), -1)))
    print(f"{len(rows):>5} training images: mean r transfer {scores['transfer']:.3f}, scratch {scores['scratch']:.3f}")

# %%
# ``python scripts/transfer.py`` runs the same comparison with a stronger scratch baseline (an alpha per principal
# direction of the new subject's own targets) and draws the curves (docs/transfer.md).
#
# Exercises
# ---------
# 1. Try ``rank=8`` and ``rank=256``. What does the rank trade?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# A small rank fits few parameters (good with little data) but caps what can be predicted to what those few
# directions span; a large rank keeps more of the targets but needs more of the new subject's images to fit.
#
# .. raw:: html
#
#    </details>
