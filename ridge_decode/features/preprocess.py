"""Preprocessing on the batch's device: resizing and normalising in torch, not with PIL on one CPU thread.

The uint8 batch crosses to the device once (a quarter of the bytes of float32), and is resized there with
``torch.nn.functional.interpolate`` (bicubic, antialiased: the kernel PIL uses for downsampling). It differs
from the PIL path (PIL resizes the uint8 image and rounds to whole levels, then rescales) by rounding and by the
kernels' edges; ``tests/features/test_features.py`` bounds the difference, and docs/features.md gives it.
"""

from __future__ import annotations

import numpy as np

# Measured against the PIL path (CLIPImageProcessor; PIL bicubic to 512 for the VAE) on the synthetic stimuli, in
# pixel units (0..1): the largest difference of one pixel value, and the mean absolute difference.
PIL_MAX_DIFF, PIL_MEAN_DIFF = 0.025, 0.002


def is_cuda(device) -> bool:
    """Whether ``device`` names a CUDA device."""
    return str(device).startswith("cuda")


def pinned(images: np.ndarray, device) -> np.ndarray:
    """``images`` in page-locked host memory when ``device`` is CUDA (else as they are): a numpy view of a pinned
    tensor, so that families reading numpy still can, and the copy to the device can run asynchronously. Called by
    the extraction's reader thread, so the copy into pinned memory overlaps the device's work."""
    if images is None or not is_cuda(device):
        return images
    # heavy (torch): imported where used
    import torch

    buffer = torch.empty(images.shape, dtype=torch.uint8).pin_memory()
    view = buffer.numpy()  # the view keeps the pinned tensor alive
    view[...] = images
    return view


def to_device(images: np.ndarray, device, dtype=None):
    """uint8 images (n, H, W, 3) -> float (n, 3, H, W) in [0, 1] on ``device`` (the uint8 array crosses; from
    pinned memory, asynchronously, on CUDA)."""
    # heavy (torch): imported where used
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).to(device, non_blocking=is_cuda(device))
    return x.permute(0, 3, 1, 2).to(dtype or torch.float32) / 255.0


def resize(x, size: tuple[int, int], clip: bool = True):
    """Bicubic, antialiased resize of (n, 3, H, W) in [0, 1] to ``size`` (h, w), clipped to [0, 1] as PIL's is
    (``clip=False`` keeps every value, and so every gradient, for guidance)."""
    # heavy (torch): imported where used
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) == tuple(size):
        return x
    x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)
    return x.clamp(0.0, 1.0) if clip else x


def vae_input(images: np.ndarray, size: int, device, dtype):
    """uint8 images -> (n, 3, size, size) in [-1, 1] on the device: the VAE's input."""
    x = resize(to_device(images, device), (size, size))
    return (x * 2.0 - 1.0).to(dtype)


def clip_input(images: np.ndarray, processor, device, dtype):
    """uint8 images -> CLIP pixel values on the device, as ``processor`` (a CLIPImageProcessor) describes them:
    the shortest side to its ``shortest_edge`` (bicubic), a centre crop to its ``crop_size``, its mean and std."""
    # heavy (torch): imported where used
    import torch

    short = int(processor.size["shortest_edge"])
    ch, cw = int(processor.crop_size["height"]), int(processor.crop_size["width"])
    x = to_device(images, device)
    h, w = x.shape[-2:]
    # transformers' rule: the short side to ``short``, the long side scaled and truncated
    new = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
    x = resize(x, new)
    top, left = (x.shape[-2] - ch) // 2, (x.shape[-1] - cw) // 2
    x = x[..., top : top + ch, left : left + cw]
    mean = torch.tensor(processor.image_mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).to(dtype)
