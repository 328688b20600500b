"""Feature families by name: how each is made, its output shape, its weights and what it is for.

A family is a class whose instances are extractors: ``Family(weights_root, device, dtype)`` loads the weights
(if any); calling it maps a batch (uint8 images (n, H, W, 3), or a list of caption lists) to an array
(n, *shape); ``.shape``, ``.files`` and ``.preprocessing`` describe the output and how it was made, and
``.extras()`` returns constant arrays stored once with the family (IP-Adapter's negative tokens).

To add a family: write a module with such a class, and register it here. VDVAE (Brain-Diffuser's low-level
stage) is such an extension point: its model code is not in diffusers, so it is not included.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import autokl, clip_layers, clip_text, ipadapter, pixels


@dataclass(frozen=True)
class FeatureFamily:
    """A registered family: ``make(weights_root, device, dtype)`` returns its extractor."""

    name: str
    shape: tuple[int, ...]
    description: str
    make: type
    weights: tuple[str, ...] = ()  # manifest keys of the weights it needs
    inputs: str = "images"  # "images" or "captions"

    @property
    def needs_weights(self) -> bool:
        return bool(self.weights)


REGISTRY: dict[str, FeatureFamily] = {
    f.name: f
    for f in (
        FeatureFamily("ipadapter_plus", ipadapter.SHAPE,
                      "IP-Adapter-Plus tokens: ViT-H/14 penultimate states through the Plus Resampler",
                      ipadapter.IPAdapterPlus, (ipadapter.CHECKPOINT_KEY, ipadapter.ENCODER_KEY)),
        FeatureFamily("autokl", autokl.SHAPE, "SD 1.5 VAE latent mean at 512x512, times the scaling factor",
                      autokl.AutoKL, (autokl.WEIGHTS_KEY,)),
        FeatureFamily("clip_text", clip_text.SHAPE,
                      "SD 1.5 text encoder last hidden state, averaged over the image's COCO captions",
                      clip_text.ClipText, (clip_text.WEIGHTS_KEY,), inputs="captions"),
        FeatureFamily("clip_layers", clip_layers.SHAPE,
                      "CLIP ViT-L/14 at 4 depths: CLS + 2x2 pooled patch tokens, for guidance",
                      clip_layers.ClipLayers, (clip_layers.WEIGHTS_KEY,)),
        FeatureFamily("pixels", (pixels.DEFAULT_SIZE, pixels.DEFAULT_SIZE, 3),
                      "stimulus downsampled (area filter) to 32x32 RGB in [0, 1]; needs no weights", pixels.Pixels),
    )
}
