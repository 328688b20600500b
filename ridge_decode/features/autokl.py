"""``autokl``: Stable Diffusion 1.5's VAE (AutoKL) latent of each stimulus, 4 x 64 x 64.

Image resized on the device to the VAE's native resolution (its config's ``sample_size``: 512 x 512 for SD 1.5;
bicubic, antialiased; ``preprocess``),
scaled to [-1, 1], encoded; the target is the posterior mean times the
VAE's ``scaling_factor`` (0.18215 for SD 1.5), i.e. the latent the UNet works in. The decoder starts img2img
from the predicted latent, which diffusers expects already scaled.
"""

from __future__ import annotations

import numpy as np

from ..weights import describe_files, from_pretrained, torch_dtype, weight_path
from .preprocess import vae_input

NAME = "autokl"
SHAPE = (4, 64, 64)
IMAGE_SIZE = 512  # SD 1.5's native resolution, used if the VAE config does not state one
WEIGHTS_KEY = "sd15"


class AutoKL:
    """Extractor: uint8 images (n, H, W, 3) -> float32 scaled latents (n, 4, size/f, size/f)."""

    inputs = "images"

    def __init__(self, weights_root, device: str = "cpu", dtype: str = "float32"):
        # heavy (diffusers): imported where used
        from diffusers import AutoencoderKL

        path = weight_path(WEIGHTS_KEY, weights_root)
        self.device, self.dtype = device, torch_dtype(device, dtype)
        self.vae = from_pretrained(AutoencoderKL, path, WEIGHTS_KEY, subfolder="vae",
                                   dtype=self.dtype).to(device).eval()
        image_size = self.image_size = int(getattr(self.vae.config, "sample_size", None) or IMAGE_SIZE)
        factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.shape = (self.vae.config.latent_channels, image_size // factor, image_size // factor)
        self.scaling_factor = float(self.vae.config.scaling_factor)
        self.files = {"vae": describe_files(path / "vae")}
        self.preprocessing = (f"resize to {image_size}x{image_size} (bicubic, antialiased, on the device), [-1, 1]; "
                              f"latent_dist.mean * scaling_factor ({self.scaling_factor})")

    def prepare(self, images: np.ndarray):
        """uint8 images (n, H, W, 3) -> the VAE's input on the device."""
        return vae_input(images, self.image_size, self.device, self.dtype)

    def forward(self, x) -> np.ndarray:
        """The VAE's input -> scaled latent means (n, 4, h, w) on the host: the model alone."""
        # heavy (torch): imported where used
        import torch

        with torch.no_grad():
            mean = self.vae.encode(x).latent_dist.mean
        return (mean * self.scaling_factor).float().cpu().numpy()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.forward(self.prepare(images))

    def extras(self) -> dict[str, np.ndarray]:
        return {}
