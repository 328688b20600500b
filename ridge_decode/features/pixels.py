"""The weight-free family ``pixels``: each stimulus downsampled to ``size`` x ``size``, RGB in [0, 1]."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import DataFormatError

DEFAULT_SIZE = 32  # 32 x 32 x 3 = 3072 targets: small enough for a CPU demo, large enough to see a scene


def pixels(images: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Downsample uint8 images (n, H, W, 3) with an area filter to float32 (n, size, size, 3) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise DataFormatError(f"expected uint8 images (n, H, W, 3); found {images.dtype} {images.shape}")
    out = np.empty((len(images), size, size, 3), np.float32)
    for i, img in enumerate(images):
        out[i] = np.asarray(Image.fromarray(img).resize((size, size), Image.BOX), np.float32) / 255.0
    return out


class Pixels:
    """Extractor for the registry: uint8 images -> (n, size, size, 3) in [0, 1]; needs no weights."""

    inputs = "images"

    def __init__(self, weights_root=None, device: str = "cpu", dtype: str = "float32", size: int = DEFAULT_SIZE):
        self.size = size
        self.shape = (size, size, 3)
        self.files: dict = {}
        self.preprocessing = f"area (box) filter to {size}x{size}, RGB / 255"

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return pixels(images, self.size)

    def extras(self) -> dict[str, np.ndarray]:
        return {}
