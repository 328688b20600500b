"""Resizing images on the host, written once: every stage that brings images to another size calls this."""

from __future__ import annotations

import numpy as np


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 images (n, H, W, 3) (or one, (H, W, 3)) resized to (size, size) by PIL's bicubic filter; the images
    themselves when they already are that size."""
    from PIL import Image

    images = np.asarray(images)
    if images.shape[-3:-1] == (size, size):
        return images
    if images.ndim == 3:
        return np.asarray(Image.fromarray(images).resize((size, size), Image.BICUBIC))
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BICUBIC)) for im in images])
