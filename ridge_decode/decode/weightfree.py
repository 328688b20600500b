"""The weight-free decoder: predicted ``pixels`` targets back to images, with no diffusion weights."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..images import resize_images

NAME = "weight-free"


def pixels_to_images(pred: np.ndarray, size: int | None = None) -> np.ndarray:
    """Predicted pixels (n, h, w, 3) in [0, 1] -> uint8 images (n, size, size, 3), clipped, bicubic-upsampled."""
    pred = np.asarray(pred)
    if pred.ndim != 4 or pred.shape[-1] != 3:
        raise InputError(f"expected predicted pixels (n, h, w, 3); found shape {pred.shape}")
    imgs = (np.clip(pred, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return imgs if size is None else resize_images(imgs, size)


def decoder(ctx) -> tuple:
    """The decoder registry's entry point (``decode.DECODERS``): the predicted pixels, at the seen images' size."""
    pixels = ctx.pred.need("pixels", "the weight-free decoder")

    def make(rows, k):
        return pixels_to_images(pixels[rows], size=ctx.size)

    return make, {"decoder_name": NAME}
