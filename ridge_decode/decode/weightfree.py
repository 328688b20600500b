"""The weight-free decoder: predicted ``pixels`` targets back to images, with no diffusion weights."""

from __future__ import annotations

import numpy as np
from PIL import Image

NAME = "weight-free"


def pixels_to_images(pred: np.ndarray, size: int | None = None) -> np.ndarray:
    """Predicted pixels (n, h, w, 3) in [0, 1] -> uint8 images (n, size, size, 3), clipped, bicubic-upsampled."""
    pred = np.asarray(pred)
    if pred.ndim != 4 or pred.shape[-1] != 3:
        raise ValueError(f"expected predicted pixels (n, h, w, 3); found shape {pred.shape}")
    imgs = (np.clip(pred, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if size is None or size == pred.shape[1]:
        return imgs
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BICUBIC)) for im in imgs])


def decoder(ctx) -> tuple:
    """The decoder registry's entry point (``decode.DECODERS``): the predicted pixels, at the seen images' size."""
    pixels = ctx.pred.need("pixels", "the weight-free decoder")

    def make(rows, k):
        return pixels_to_images(pixels[rows], size=ctx.size)

    return make, {"decoder_name": NAME}
