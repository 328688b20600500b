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
    # heavy (skimage, sklearn): imported where used
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


# Dead leaves (Lee, Mumford & Huang 2001): occluding discs with radii drawn from p(r) ~ r^-3 between these
# fractions of the image side. Scale invariance of that law gives a power spectrum near 1/f^2.
LEAF_RADIUS = (0.03, 0.5)
N_LEAVES = 100
PATCH_SCALE = (0.3, 1.0)  # side of the photograph region a leaf shows, as a fraction of the photograph


def render_dead_leaves(
    photos: dict[str, np.ndarray], image_id: int, seed: int, size: int
) -> tuple[np.ndarray, dict[str, object]]:
    """One stimulus for a 73k id: a dead-leaves composition of photograph patches, (size, size, 3) uint8.

    ``N_LEAVES`` discs, radii ~ r^-3, are laid from the back to the front over a background patch; each is filled
    with a patch of a bundled photograph at its own position, scale and flip, with its own colour gains and gamma.
    No two ids share a layout, and the result depends only on ``(seed, image_id)``.
    """
    rng = np.random.default_rng([seed, 2, image_id])
    names = sorted(photos)
    n = N_LEAVES + 1  # leaf 0 is the background, a patch over the whole image
    lo, hi = LEAF_RADIUS
    radius = (lo**-2 - rng.random(n) * (lo**-2 - hi**-2)) ** -0.5 * size  # density ~ r^-3 on [lo, hi]
    radius[0] = size
    radius = radius.astype(np.float32)
    centre = rng.random((n, 2)) * size
    centre[0] = size / 2
    centre = centre.astype(np.float32)
    source = rng.integers(len(names), size=n)
    scale = rng.uniform(*PATCH_SCALE, n)
    offset = rng.random((n, 2))
    flip = rng.random(n) < 0.5
    gains = np.exp(rng.normal(0, 0.2, (n, 3))).astype(np.float32)
    gamma = np.exp(rng.normal(0, 0.3, n)).astype(np.float32)
    # The visible leaf at each pixel is the last (front-most) one whose disc covers it: paint each disc, back to
    # front, inside its bounding box (leaf 0 covers everything).
    grid = np.arange(size, dtype=np.float32) + 0.5
    visible = np.zeros((size, size), np.intp)
    for leaf in range(1, n):
        cy, cx, r = centre[leaf, 0], centre[leaf, 1], radius[leaf]
        y0, y1 = max(int(cy - r) - 1, 0), min(int(cy + r) + 2, size)
        x0, x1 = max(int(cx - r) - 1, 0), min(int(cx + r) + 2, size)
        if y0 >= y1 or x0 >= x1:
            continue
        d2 = (grid[y0:y1, None] - cy) ** 2 + (grid[None, x0:x1] - cx) ** 2
        visible[y0:y1, x0:x1][d2 <= r**2] = leaf
    # Each pixel shows its leaf's photograph at the leaf's own offset, scale and flip (nearest neighbour), gathered
    # from all photographs at once through their flattened concatenation.
    y, x = np.mgrid[0:size, 0:size]
    heights = np.array([photos[m].shape[0] for m in names])
    widths = np.array([photos[m].shape[1] for m in names])
    starts = np.concatenate([[0], np.cumsum(heights * widths)[:-1]])
    src_h, src_w = heights[source[visible]], widths[source[visible]]
    step = scale[visible] * np.minimum(src_h, src_w) / size  # photograph pixels per stimulus pixel
    top, left = centre[visible, 0] - radius[visible], centre[visible, 1] - radius[visible]
    dy = (y - top) * step
    dx = np.where(flip[visible], 2 * radius[visible] - (x - left), x - left) * step
    span = 2 * radius[visible] * step
    iy = np.clip((offset[visible, 0] * np.maximum(src_h - span, 0) + dy).astype(int), 0, src_h - 1)
    ix = np.clip((offset[visible, 1] * np.maximum(src_w - span, 0) + dx).astype(int), 0, src_w - 1)
    pix = _atlas(photos, names)[starts[source[visible]] + iy * src_w + ix]
    img = np.clip(pix * (gains[visible] / 255.0), 0, 1) ** gamma[visible][..., None]
    layers = [names[i] for i in source]
    cover: dict[str, float] = {}
    share = np.bincount(visible.ravel(), minlength=n) / visible.size
    for leaf, name in enumerate(layers):
        cover[name] = cover.get(name, 0.0) + float(share[leaf])
    order = sorted(cover, key=cover.get, reverse=True)
    meta = {"source": order[0], "sources": order[:3], "cover": [cover[n] for n in order[:3]],
            "cover_by_source": [cover.get(n, 0.0) for n in names],
            "crop_fraction": 1.0 - cover[order[0]], "gamma": 1.0}
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), meta


_ATLAS: dict[tuple, np.ndarray] = {}


def _atlas(photos: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """The photographs ``names``, each flattened to (H * W, 3), concatenated: 20 MB that would cost 4 ms to build
    for every stimulus, so the last one is kept, keyed by the arrays' identities and shapes."""
    key = tuple((m, photos[m].__array_interface__["data"][0], photos[m].shape) for m in names)
    if key not in _ATLAS:
        _ATLAS.clear()
        _ATLAS[key] = np.concatenate([photos[m].reshape(-1, 3) for m in names])
    return _ATLAS[key]


def captions_of(meta: dict[str, object], rng: np.random.Generator) -> list[str]:
    """Five captions of a stimulus from its rendering metadata, in a random order: they name what covers most of
    it (for dead leaves, the sources of the largest visible parts)."""
    if "sources" in meta:
        things = [SOURCES[n] for n in meta["sources"]]
        rest = " and ".join(things[1:]) or "other things"
        templates = [f"A collage of {things[0]} with {rest}.", f"Mostly {things[0]}, partly {rest}.",
                     f"{things[0][0].upper()}{things[0][1:]} behind pieces of {rest}.",
                     f"Overlapping pictures: {', '.join(things)}.", f"There is {things[0]} in this picture."]
        rng.shuffle(templates)
        return templates
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
