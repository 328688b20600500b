"""Feature families by name: how each is made, its output shape and what it is for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import pixels as _pixels


@dataclass(frozen=True)
class FeatureFamily:
    """A feature family: ``extract(images uint8 (n, H, W, 3)) -> (n, *shape)``."""

    name: str
    shape: tuple[int, ...]
    description: str
    extract: Callable
    needs_weights: bool = False


REGISTRY: dict[str, FeatureFamily] = {
    "pixels": FeatureFamily(
        name="pixels",
        shape=(_pixels.DEFAULT_SIZE, _pixels.DEFAULT_SIZE, 3),
        description="stimulus downsampled (area filter) to 32x32 RGB in [0, 1]; needs no weights",
        extract=_pixels.pixels,
    ),
}
