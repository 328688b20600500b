"""Predicted targets to images: the decoders, registered by name as feature families are (``features.REGISTRY``).

A decoder is its name, the target groups it needs from a fit's predictions, and its entry point: a function
``(DecodeContext) -> (make, config)`` where ``make(rows, k)`` returns uint8 images of the prediction rows ``rows``
(sample ``k``) and ``config`` describes the decoder in the decode's ``config.json``. A new decoder is one module
with its entry point and one line in ``DECODERS``; the commands offer it by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class DecodeContext:
    """What every decoder is given: the predictions (``layout.Predictions``: ``need(group, why)`` names a missing
    group), the seen images' size (None without them), the feature cache (``features.FeatureStore``), the weights
    root, the device and dtype, the sampler's settings, the prompt choice and the output folder (for logs)."""

    pred: object
    size: int | None
    features: object
    weights_root: Path
    device: str = "cpu"
    dtype: str = "float32"
    sampler: object = None
    text: str = "empty"
    out: Path | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Decoder:
    """A decoder: ``name``, the target groups it ``needs``, ``entry`` ("module:function") and its ``weights``."""

    name: str
    needs: tuple[str, ...]
    entry: str
    description: str = ""
    weights: tuple[str, ...] = ()  # manifest keys of the weights it loads

    def build(self, ctx: DecodeContext) -> tuple[Callable, dict]:
        """The decoder's ``(make, config)`` for ``ctx`` (its module is imported only now)."""
        module, function = self.entry.split(":")
        return getattr(importlib.import_module(module), function)(ctx)


DECODERS: dict[str, Decoder] = {d.name: d for d in (
    Decoder("diffusion", ("autokl", "ipadapter_plus"), "ridge_decode.decode.diffusion:decoder",
            "IP-Adapter-Plus Stable Diffusion 1.5, img2img from the predicted AutoKL latent",
            ("sd15", "ipadapter_plus")),
    Decoder("weight-free", ("pixels",), "ridge_decode.decode.weightfree:decoder",
            "the predicted 32 x 32 pixels, upsampled (no weights)"),
)}
