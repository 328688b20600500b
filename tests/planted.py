"""Own data with a planted signal, for the tests: images whose 4 x 4 colour layout the betas read linearly."""

import numpy as np

LAYOUT_DIMS = 48  # a 4 x 4 grid of RGB colours


def coarse_images(n: int, n_voxels: int, side: int = 32, first_id: int = 5000, seed: int = 0):
    """(ids (n,), the layouts (n, 48), uint8 images (n, side, side, 3) of them, a voxel map (48, n_voxels), the
    generator, to draw the noise from). Betas ``(layout - 0.5) @ W + noise`` decode to the layout."""
    rng = np.random.default_rng(seed)
    ids = np.arange(first_id, first_id + n)
    coarse = rng.random((n, 4, 4, 3))
    block = max(side // 4, 1)
    images = (np.kron(coarse, np.ones((1, block, block, 1))) * 255).astype(np.uint8)[:, :side, :side]
    W = rng.standard_normal((LAYOUT_DIMS, n_voxels))
    return ids, coarse.reshape(n, -1), images, W, rng
