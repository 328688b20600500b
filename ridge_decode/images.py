"""Images on the host: resizing, written once (every stage that brings images to another size calls it), and the
fingerprint of each image that a feature cache records."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image


def resize_images(images: np.ndarray, size) -> np.ndarray:
    """uint8 images (n, H, W, 3) (or one, (H, W, 3)) resized to (size, size), or to (height, width) where ``size``
    is a pair, by PIL's bicubic filter; the images themselves when they already are that size."""
    images = np.asarray(images)
    h, w = (size, size) if np.ndim(size) == 0 else (int(size[0]), int(size[1]))
    if images.shape[-3:-1] == (h, w):
        return images
    if images.ndim == 3:
        return np.asarray(Image.fromarray(images).resize((w, h), Image.BICUBIC))
    return np.stack([np.asarray(Image.fromarray(im).resize((w, h), Image.BICUBIC)) for im in images])


def image_hashes(images: np.ndarray) -> np.ndarray:
    """(n,) uint64: an 8-byte BLAKE2b digest of each image's bytes (n, H, W, 3), never 0 (0 means "not recorded").
    About 1 GB/s: NSD's 73,000 stimuli (39 GB) cost what reading them costs."""
    out = np.empty(len(images), np.uint64)
    for k, image in enumerate(images):
        digest = hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=8).digest()
        out[k] = int.from_bytes(digest, "little") or 1
    return out
