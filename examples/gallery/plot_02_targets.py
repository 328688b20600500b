"""
2. What we predict: targets
===========================

A decoder predicts **targets**: numbers computed from each image by a fixed model, cached once for every subject.
On NSD they are IP-Adapter tokens, VAE latents and CLIP features; here, to need no weights, the family ``pixels``:
the image shrunk to 32 x 32 colour pixels. Every pixel value is one target, predicted on its own.
"""

# %%
# The feature cache
# -----------------
# ``extract_features`` computes a family for the source's images once and caches it by image id;
# ``read(family, ids)`` gives the rows of any ids, in that order.
import matplotlib.pyplot as plt

import ridge_decode as rd

# run as a script (in a terminal or headless), each figure is also written as a PNG into the data home
figures = rd.get_data_home() / "figures"
figures.mkdir(exist_ok=True)

root = rd.fetch_synthetic()  # written once into the data home (about 20 s, 0.44 GB), then reused
source = rd.NSDSource(root, subject=1)
data = source.load(progress=False)
features = rd.extract_features(source, ["pixels"], progress=False)
Y_train = features.read("pixels", data.train_ids)
print(f"targets of the training images: {Y_train.shape} {Y_train.dtype}, {Y_train[0].size} per image, in [0, 1]")

# %%
# Seen images and their targets
# -----------------------------
seen = source.images().read(data.train_ids[:6])
fig, axes = plt.subplots(2, 6, figsize=(9, 3.2), layout="constrained")
for k in range(6):
    axes[0, k].imshow(seen[k])
    axes[1, k].imshow(Y_train[k])
    for ax in axes[:, k]:
        ax.axis("off")
axes[0, 0].set_title("seen", loc="left", fontsize=8)
axes[1, 0].set_title("target: 32 x 32", loc="left", fontsize=8)
fig.savefig(figures / "02_targets.png")
plt.show()

# %%
# Exercises
# ---------
# 1. Which feature families does the package know, and which need model weights?
#
# .. raw:: html
#
#    <details><summary>Answer</summary>
#
# ``python scripts/extract_features.py --list`` prints them; in Python, ``ridge_decode.features.REGISTRY``, each
# with ``needs_weights`` and its ``shape``. Five, of which only ``pixels`` (32, 32, 3) needs no weights; the others
# need model weights: ``ipadapter_plus`` (16, 768), ``autokl`` (4, 64, 64), ``clip_text`` (77, 768) and
# ``clip_layers`` (4, 5, 1024).
#
# .. raw:: html
#
#    </details>
