"""Stimuli and captions: each 73k id's image, made from photographs bundled with scikit-image and scikit-learn."""

from __future__ import annotations

import numpy as np
from PIL import Image

SOURCES = {
    "astronaut": "an astronaut in a white space suit",
    "camera": "a man with a camera on a tripod",
    "chelsea": "a tabby cat",
    "coffee": "a cup of coffee on a saucer",
    "coins": "old coins on a table",
    "grass": "a patch of grass",
    "gravel": "a gravel path",
    "hubble_deep_field": "galaxies in deep space",
    "rocket": "a rocket on a launch pad",
    "retina": "a photograph of an eye's retina",
    "moon": "the surface of the moon",
    "brick": "a brick wall",
    "cell": "a cell under a microscope",
    "immunohistochemistry": "stained tissue under a microscope",
    "clock": "a clock on a wall",
    "china": "a temple among trees",
    "flower": "a flower in a garden",
}


def load_source_photographs() -> dict[str, np.ndarray]:
    """The real photographs bundled with scikit-image and scikit-learn, as uint8 RGB (no network needed)."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = {}
    for name in SOURCES:
        if name in ("china", "flower"):
            continue
        img = getattr(skimage.data, name)()
        photos[name] = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
    china, flower = load_sample_images().images
    photos["china"], photos["flower"] = china, flower
    return photos


def render_stimulus(
    photos: dict[str, np.ndarray], image_id: int, seed: int, size: int
) -> tuple[np.ndarray, dict[str, object]]:
    """One stimulus for a 73k id: a random crop, scale, flip and gamma of a photograph, as (size, size, 3) uint8.

    The result depends only on ``(seed, image_id)``, never on which other ids are rendered.
    """
    rng = np.random.default_rng([seed, 2, image_id])
    names = sorted(photos)
    name = names[rng.integers(len(names))]
    src = photos[name]
    h, w = src.shape[:2]
    frac = rng.uniform(0.3, 1.0)
    side = max(8, int(frac * min(h, w)))
    y0, x0 = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = src[y0 : y0 + side, x0 : x0 + side]
    flip = bool(rng.random() < 0.5)
    if flip:
        crop = crop[:, ::-1]
    img = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.BILINEAR))
    gamma = float(np.exp(rng.normal(0, 0.25)))
    img = np.clip(255.0 * (img / 255.0) ** gamma, 0, 255).astype(np.uint8)
    return img, {"source": name, "crop_fraction": frac, "flip": flip, "gamma": gamma}


def captions_of(meta: dict[str, object], rng: np.random.Generator) -> list[str]:
    """Five captions of a stimulus from its rendering metadata, in a random order."""
    thing = SOURCES[meta["source"]]
    close = meta["crop_fraction"] < 0.55
    light = "bright" if meta["gamma"] < 0.9 else "dark" if meta["gamma"] > 1.1 else "evenly lit"
    templates = [
        f"{'A close-up of ' if close else 'A view of '}{thing}.",
        f"A {light} photo showing {thing}.",
        f"{thing[0].upper()}{thing[1:]}{' seen up close' if close else ''}.",
        f"An image of {thing}, {light}.",
        f"There is {thing} in this picture.",
    ]
    rng.shuffle(templates)
    return templates
