"""Predicted targets to images: the decoders, registered by name as feature families are (``features.REGISTRY``).

A decoder is its name, the feature families it needs from a fit's predictions, and its entry point: a function
``(DecodeContext) -> (make, config)`` where ``make(rows, k)`` returns uint8 images of the prediction rows ``rows``
(sample ``k``) and ``config`` describes the decoder in the decode's ``config.json``. A new decoder is one module
with its entry point and one line in ``DECODERS``; the commands offer it by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..features import FeatureStore


@dataclass
class DecodeContext:
    """What every decoder is given: the predictions (``results.Predictions``: ``need(group, why)`` names a missing
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


@dataclass(frozen=True)
class Decoder:
    """A decoder: ``name``, the feature families it ``needs``, ``entry`` ("module:function") and its ``weights``."""

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


class Given:
    """Predictions given in memory, as a decoder reads them: {group: (n, ...)} and their image ids (n,)."""

    def __init__(self, pred: Mapping, ids=None):
        self.pred = dict(pred)
        n = {len(v) for v in self.pred.values()}
        if len(n) != 1:
            raise InputError(f"the predicted groups have different numbers of rows: "
                             f"{ {g: len(v) for g, v in self.pred.items()} }")
        self.ids = np.arange(n.pop()) if ids is None else np.asarray(ids)

    def need(self, group: str, why: str) -> np.ndarray:
        """The predictions of ``group``; an ``InputError`` naming it (and what it is for) when absent."""
        if group not in self.pred:
            raise InputError(f"the predictions have no {group!r} ({why}); they have {sorted(self.pred)}")
        return self.pred[group]


def decode_images(pred: Mapping, decoder: str = "weight-free", size: int | None = None, ids=None, features=None,
                  weights_root=None, device: str = "cpu", batch_size: int = 8) -> np.ndarray:
    """Turn predicted targets into images.

    Parameters
    ----------
    pred : dict of str to ndarray of shape (n, ...)
        Predicted target groups for n images, as ``OneStageRidge.predict`` returns them (floats, in the features'
        own units): "weight-free" needs ``pixels`` (n, 32, 32, 3) in [0, 1] (values outside are clipped);
        "diffusion" needs ``autokl`` (n, 4, 64, 64), the VAE latent already scaled by 0.18215, and
        ``ipadapter_plus`` (n, 16, 768). Other groups are ignored.
    decoder : {"weight-free", "diffusion"}
        A name of ``ridge_decode.decode.DECODERS``.
    size : int, optional
        "weight-free": the output images' side in pixels (bicubic upsampling), default 32. "diffusion" decodes at
        Stable Diffusion's 512 x 512.
    ids : array-like of shape (n,), optional
        Integer image ids (NSD: 73k ids); they seed the diffusion sampler per image, so that a result does not
        depend on the batch. Default 0..n-1.
    features : FeatureStore or str or Path, optional
        "diffusion" only: the feature cache (or its folder) that holds IP-Adapter's negative tokens.
    weights_root : str or Path, optional
        "diffusion" only: the folder of local model weights (``fetch-weights`` fills it).
    device : str
        Where the diffusion model runs ("cpu", "cuda").
    batch_size : int
        Images decoded at a time.

    Returns
    -------
    images : ndarray of shape (n, size, size, 3), uint8
        RGB images, 0-255, in the order of ``pred``'s rows.

    Raises
    ------
    InputError
        An unknown decoder, a needed group missing from ``pred``, or weights needed and no ``weights_root``.
    """
    if decoder not in DECODERS:
        raise InputError(f"decoder must be one of {sorted(DECODERS)}; got {decoder!r}")
    spec = DECODERS[decoder]
    if spec.weights and weights_root is None:
        raise InputError(f"the {decoder!r} decoder loads weights ({', '.join(spec.weights)}): give weights_root, "
                         "a folder that this command fills: python scripts/fetch_weights.py --weights-root <weights>")
    if isinstance(features, (str, Path)):
        features = FeatureStore(features)
    given = Given(pred, ids)
    make, _ = spec.build(DecodeContext(given, size, features, None if weights_root is None else Path(weights_root),
                                       device=device))
    rows = np.arange(len(given.ids))
    return np.concatenate([make(rows[a : a + batch_size], 0) for a in range(0, len(rows), batch_size)])
