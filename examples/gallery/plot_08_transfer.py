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
import time

import numpy as np

import ridge_decode as rd

root = rd.fetch_synthetic()  # written once into the data home (about 20 s, 0.44 GB), then reused
reference = rd.NSDSource(root, subject=1).load(progress=False)
new_source = rd.NSDSource(root, subject=2)
new = new_source.load(progress=False)
features = rd.extract_features(new_source, ["pixels"], progress=False)  # the same images, one cache
ref_model = rd.OneStageRidge().fit(reference.train_betas,
                                   {"pixels": features.read("pixels", reference.train_ids)})
shared = rd.SharedSpace.from_reference(ref_model, reference.train_betas, rank=64)
print(f"shared space: {shared.basis_['pixels'].shape[1]} directions of {shared.basis_['pixels'].shape[0]} targets")

# %%
# The new subject, from a few images
# ----------------------------------
y_test = features.read("pixels", new.test_ids)
results = []
for fraction in (0.05, 0.1, 0.25, 0.5, 1.0):
    rows = np.sort(np.random.default_rng(0).permutation(len(new.train_ids))[: int(fraction * len(new.train_ids))])
    y = {"pixels": features.read("pixels", new.train_ids[rows])}
    for name, model in (("transfer", rd.TransferRidge(shared)), ("scratch", rd.OneStageRidge())):
        start = time.perf_counter()
        pred = model.fit(new.train_betas[rows], y).predict(new.test_betas)["pixels"]
        seconds = time.perf_counter() - start
        r = np.nanmean(rd.columnwise_r(pred.reshape(len(pred), -1), y_test.reshape(len(y_test), -1)))
        results.append({"method": name, "n_train": len(rows), "mean_r": float(r), "seconds": seconds})
    print(f"{len(rows):>5} training images: mean r transfer {results[-2]['mean_r']:.3f}, "
          f"scratch {results[-1]['mean_r']:.3f}")

# %%
# With few images, many of the new subject's ridges choose an end of the alpha grid, and the fit says so
# (``AlphaGridWarning``, above): at the largest alpha a direction is shrunk to nothing, which is what little data
# allows.
#
# The data-efficiency curve: held-out r against the new subject's training images (left), and the fit's time
# (right). Run as a script, the figure is written into the ``figures`` folder of the data home.
figures = rd.get_data_home() / "figures"
figures.mkdir(exist_ok=True)
fig = rd.plot_transfer(results, path=figures / "08_transfer.png",
                       title="subject 2 from few images: transfer of subject 1's space against ridge from scratch")
print(f"written: {figures / '08_transfer.png'}")
fig

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
# Measured here, mean held-out r of transfer with 67 / all 1,350 of the new subject's training images: rank 8,
# 0.311 / 0.394; rank 64 (above), 0.298 / 0.425; rank 256, 0.285 / 0.424. With few images the smallest rank wins;
# with many it caps r, and beyond 64 directions nothing more is gained.
#
# .. raw:: html
#
#    </details>
