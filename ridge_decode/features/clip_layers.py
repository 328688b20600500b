"""``clip_layers``: CLIP ViT-L/14 vision features at four depths, pooled small enough to be ridge targets.

NeuralDiffuser guided decoding with all 50 tokens of 6 ViT-B/32 layers (about 230,000 values per image): too
many targets for a ridge fit. Here, at each of 4 depths (1/4, 1/2, 3/4 and all of the encoder's layers: 6, 12,
18 and 24 for ViT-L/14), the CLS token and a 2 x 2 average-pooled grid of the patch tokens are kept:
4 x (1 + 4) x 1024 = 20,480 values. The low depths keep coarse layout, the high ones semantics.

Why ViT-L/14 rather than NeuralDiffuser's ViT-B/32: the CLIP evaluation metric needs ViT-L/14 anyway, so one
set of weights serves both (manifest entry ``clip_vit_l14``).

``pool_layers`` is the one definition of these features: extraction calls it, and decoding's guidance loss must
call it on the decoded image so that both sides compare the same numbers.
"""

from __future__ import annotations

import numpy as np

from ..weights import (
    CLIP_MEAN,
    CLIP_STD,
    clip_processor,
    describe_files,
    torch_dtype,
    vision_tower_from_clip,
    weight_path,
)
from .preprocess import clip_input, resize

NAME = "clip_layers"
DEPTH_FRACTIONS = (0.25, 0.5, 0.75, 1.0)  # of the encoder's layers
GRID = 2  # patch tokens average-pooled to GRID x GRID
SHAPE = (len(DEPTH_FRACTIONS), 1 + GRID * GRID, 1024)
WEIGHTS_KEY = "clip_vit_l14"


def depths(n_layers: int) -> list[int]:
    """Indices into ``hidden_states`` (1..n_layers: the output of that layer) for ``DEPTH_FRACTIONS``."""
    return sorted({max(1, round(q * n_layers)) for q in DEPTH_FRACTIONS})


def pool_layers(model, pixel_values, grid: int = GRID):
    """CLIP vision ``model`` on ``pixel_values`` (B, 3, S, S) -> (B, n_depths, 1 + grid^2, width) tensor.

    Differentiable (no ``no_grad`` here), so guidance can back-propagate a loss on these features to the image.
    """
    # heavy (torch): imported where used
    import torch
    import torch.nn.functional as F

    states = model(pixel_values, output_hidden_states=True).hidden_states
    out = []
    for d in depths(model.config.num_hidden_layers):
        h = states[d]  # (B, 1 + side^2, width)
        side = int(round((h.shape[1] - 1) ** 0.5))
        patches = h[:, 1:].reshape(h.shape[0], side, side, -1).permute(0, 3, 1, 2)
        pooled = F.adaptive_avg_pool2d(patches, grid).flatten(2).transpose(1, 2)  # (B, grid^2, width)
        out.append(torch.cat([h[:, :1], pooled], dim=1))
    return torch.stack(out, dim=1)


class ClipLayers:
    """Extractor: uint8 images (n, H, W, 3) -> float32 (n, n_depths, 1 + GRID^2, width)."""

    inputs = "images"

    def __init__(self, weights_root, device: str = "cpu", dtype: str = "float32"):
        # heavy (transformers): imported where used
        from transformers import CLIPVisionModel

        path = weight_path(WEIGHTS_KEY, weights_root)
        self.device, self.dtype = device, torch_dtype(device, dtype)
        self.model = vision_tower_from_clip(CLIPVisionModel, path, WEIGHTS_KEY, dtype=self.dtype).to(device).eval()
        self.processor = clip_processor(path, self.model.config.image_size)
        cfg = self.model.config
        self.shape = (len(depths(cfg.num_hidden_layers)), 1 + GRID * GRID, cfg.hidden_size)
        self.files = {"clip": describe_files(path)}
        self.preprocessing = (f"CLIP preprocessing; hidden states of layers {depths(cfg.num_hidden_layers)}: "
                              f"CLS + {GRID}x{GRID} average-pooled patch tokens")

    def prepare(self, images: np.ndarray):
        """uint8 images (n, H, W, 3) -> CLIP pixel values on the device."""
        return clip_input(images, self.processor, self.device, self.dtype)

    def forward(self, x) -> np.ndarray:
        """CLIP pixel values -> pooled layer features on the host: the model alone."""
        # heavy (torch): imported where used
        import torch

        with torch.no_grad():
            return pool_layers(self.model, x).float().cpu().numpy()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.forward(self.prepare(images))

    def extras(self) -> dict[str, np.ndarray]:
        return {}


def differentiable_features(model, images):
    """``pool_layers`` on images (B, 3, H, W) in [0, 1], with CLIP's preprocessing written in torch.

    For guidance: gradients flow back to the images. Resizing is bicubic to the encoder's size (the stimuli and
    decoded images are square, so no crop is needed), as extraction's ``preprocess.clip_input`` does.
    """
    # heavy (torch): imported where used
    import torch

    size = model.config.image_size
    x = resize(images.float(), (size, size), clip=False)
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return pool_layers(model, ((x - mean) / std).to(next(model.parameters()).dtype))
