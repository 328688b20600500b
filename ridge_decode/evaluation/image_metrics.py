"""The eight standard NSD reconstruction metrics, and embedding-level scores of a fit's predictions.

Image metrics (as in Brain-Diffuser's and MindEye's evaluation code, the stimulus as ground truth). Images have
one meaning: uint8 in [0, 255], or float in [0, 1] (uint8 is divided by 255); a float image outside [0, 1] (or not
finite), another dtype, or reconstructions and stimuli of different conventions are an error
(``image_convention``), never scored as if they were the other:

| name | input | feature | score |
|---|---|---|---|
| pixcorr | stimulus size | flattened RGB | Pearson r per image, averaged |
| ssim | stimulus size, grayscale | - | scikit-image SSIM (Gaussian weights, sigma 1.5, population covariance) |
| alexnet2, alexnet5 | 256 | AlexNet ``features.4``, ``features.11`` | two-way identification |
| inception | 342 | Inception v3 ``avgpool`` | two-way identification |
| clip | 224 | CLIP ViT-L/14 image embedding | two-way identification |
| effnet_b | 255 | EfficientNet-B1 ``avgpool`` | mean correlation distance (lower is better) |
| swav | 224 | SwAV ResNet-50 ``avgpool`` | mean correlation distance (lower is better) |

Sizes follow MindEye's convention (both sets resized to 256, then to each network's size) or Brain-Diffuser's
(every network input resized to 224); the one used is recorded. A metric whose weights are missing or unreadable
is reported as ``{"unavailable": reason}`` and the others still run. Scores are fractions; reports print
percentages for the identification scores, as the published table does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import DataError, InputError, WeightsFormatError
from ..images import resize_images
from ..sources.manifest import require
from ..weights import CLIP_MEAN, CLIP_STD, torch_load, vision_tower_from_clip
from . import metrics as basic

CONVENTIONS = ("mindeye", "braindiffuser")
MINDEYE_FIRST_SIZE = 256
BRAINDIFFUSER_SIZE = 224
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Metric:
    """One metric: its name (in JSON and options), its label (the report's column), its direction, how it is
    shown (a percentage, or three decimals) and how it is computed: ``per_image(recons, stimuli) -> (n,)`` for a
    metric of the pixels; None for a metric of a feature network (``networks()``), which scores two-way
    identification when higher is better and the correlation distance otherwise."""

    name: str
    label: str
    higher_is_better: bool = True
    percent: bool = False
    per_image: Callable | None = None

    def format(self, value) -> str:
        """A table cell: 'n/a' when unavailable, '-' when absent."""
        if value is None:
            return "-"
        if isinstance(value, dict):
            return "n/a"
        return f"{100 * value:.1f}%" if self.percent else f"{value:.3f}"


CHECK_BLOCK = 64  # images checked at a time (a float check of NSD's test set never copies it whole)


def image_convention(images: np.ndarray, what: str = "images") -> str:
    """``"uint8"`` (values 0..255) or ``"float"`` (values in [0, 1]) for images (n, H, W, 3) or (H, W, 3); any
    other dtype, and float values outside [0, 1] or not finite, are an ``InputError`` naming ``what``."""
    from ..errors import InputError

    x = np.asarray(images)
    if x.dtype == np.uint8:
        return "uint8"
    if x.dtype.kind != "f":
        raise InputError(f"{what}: images must be uint8 in [0, 255] or float in [0, 1]; found dtype {x.dtype}")
    blocks = [x] if x.ndim < 4 else (x[a : a + CHECK_BLOCK] for a in range(0, len(x), CHECK_BLOCK))
    lo, hi = np.inf, -np.inf
    for block in blocks:
        if block.size:
            a, b = float(block.min()), float(block.max())  # NaN where the block has one
            if np.isnan(a) or np.isnan(b):
                lo = hi = float("nan")
                break
            lo, hi = min(lo, a), max(hi, b)
    if not (0.0 <= lo and hi <= 1.0) and x.size:
        raise InputError(f"{what}: float images must be in [0, 1] (uint8 images in [0, 255]); found values from "
                         f"{lo:.4g} to {hi:.4g}: divide 0-255 floats by 255, or give uint8 images")
    return "float"


def check_pair(recons: np.ndarray, stimuli: np.ndarray) -> str:
    """The one convention of ``recons`` and ``stimuli`` (see ``image_convention``); two conventions are an error."""
    from ..errors import InputError

    a, b = image_convention(recons, "reconstructions"), image_convention(stimuli, "stimuli")
    if a != b:
        raise InputError(f"the reconstructions are {a} images and the stimuli {b} images: give both as uint8 in "
                         "[0, 255] or both as float in [0, 1] (uint8 = round(255 * float))")
    return a


def unit(image: np.ndarray) -> np.ndarray:
    """One image (or a few) as float64 in [0, 1]: uint8 divided by 255, float as it is."""
    image = np.asarray(image)
    return image / 255.0 if image.dtype == np.uint8 else image.astype(np.float64)


def ssim_per_image(recons: np.ndarray, stimuli: np.ndarray) -> np.ndarray:
    """scikit-image SSIM of grayscale images in [0, 1], per image (n,); images (n, H, W, 3) both uint8 in
    [0, 255] or both float in [0, 1]."""
    # heavy (skimage): imported where used
    from skimage.color import rgb2gray
    from skimage.metrics import structural_similarity

    check_pair(recons, stimuli)
    return np.array([
        structural_similarity(rgb2gray(unit(r)), rgb2gray(unit(s)), gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False, data_range=1.0)
        for r, s in zip(recons, stimuli, strict=True)
    ])


def pixcorr_per_image(recons: np.ndarray, stimuli: np.ndarray) -> np.ndarray:
    """PixCorr per image (n,) (``metrics.pixcorr_per_image``, the one definition), images (n, H, W, 3) both uint8
    in [0, 255] or both float in [0, 1]."""
    check_pair(recons, stimuli)
    return basic.pixcorr_per_image(recons, stimuli)

# The registry, in the published table's order: a new metric is one entry here (``register`` for a user's own).
REGISTRY: dict[str, Metric] = {m.name: m for m in (
    Metric("pixcorr", "PixCorr", per_image=pixcorr_per_image),
    Metric("ssim", "SSIM", per_image=ssim_per_image),
    Metric("alexnet2", "Alex(2)", percent=True),
    Metric("alexnet5", "Alex(5)", percent=True),
    Metric("inception", "Incep", percent=True),
    Metric("clip", "CLIP", percent=True),
    Metric("effnet_b", "EffNet-B", higher_is_better=False),
    Metric("swav", "SwAV", higher_is_better=False),
)}


def register(metric: Metric) -> Metric:
    """Add a metric to the registry: evaluate computes it, writes it and reports it, and the CLI offers it."""
    REGISTRY[metric.name] = metric
    return metric


def metric_names() -> list[str]:
    """The registered metrics, in the report's order."""
    return list(REGISTRY)


@dataclass(frozen=True)
class Network:
    """A feature network of one or more metrics: manifest key, input size, normalisation, loader."""

    key: str
    size: int
    mean: tuple
    std: tuple
    load: Callable  # (path) -> callable(images normalised (B, 3, S, S)) -> {metric: features (B, d)}
    metrics: tuple


def _torchvision(builder, nodes: dict, **kw):
    """A loader for a torchvision checkpoint: ``builder(weights=None)``, state dict, feature nodes."""

    def load(path, device="cpu"):
        # heavy (torch, torchvision): imported where used
        import torch
        from torchvision.models.feature_extraction import create_feature_extractor

        state = torch_load(path, "torchvision")
        with torch.device("meta"):  # no random initialisation: every tensor comes from the checkpoint
            model = builder(weights=None, **kw)
        model.load_state_dict(state, assign=True)
        # only the eval graph runs; the train graph differs (Inception's auxiliary head) and is never used
        extractor = create_feature_extractor(model.eval(), return_nodes=nodes, suppress_diff_warning=True).to(device)

        def run(x):
            with torch.no_grad():
                out = extractor(x.to(device))
            return {m: out[m].flatten(1).float().cpu().numpy() for m in out}

        return run

    return load


def _swav(path, device="cpu"):
    """SwAV's released ResNet-50 (``swav_800ep_pretrain.pth.tar``): ``module.`` prefixes, a projection head."""
    # heavy (torch, torchvision): imported where used
    import torch
    from torchvision.models import resnet50
    from torchvision.models.feature_extraction import create_feature_extractor

    state = torch_load(path, "swav_resnet50")
    state = state.get("state_dict", state)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    with torch.device("meta"):  # no random initialisation: every tensor comes from the checkpoint
        model = resnet50(weights=None)
    model.fc = torch.nn.Identity()  # the metric reads avgpool; SwAV's projection head is not ResNet's fc
    backbone = {k: v for k, v in state.items() if k in model.state_dict()}
    missing = [k for k in model.state_dict() if k not in backbone]
    if missing:
        raise WeightsFormatError(f"{path}: not a SwAV ResNet-50 checkpoint; missing {missing[:5]}")
    model.load_state_dict(backbone, assign=True)
    extractor = create_feature_extractor(model.eval(), return_nodes={"avgpool": "swav"},
                                         suppress_diff_warning=True).to(device)

    def run(x):
        with torch.no_grad():
            return {"swav": extractor(x.to(device))["swav"].flatten(1).float().cpu().numpy()}

    return run


def _clip(path, device="cpu"):
    # heavy (torch, transformers): imported where used
    import torch
    from transformers import CLIPVisionModelWithProjection

    model = vision_tower_from_clip(CLIPVisionModelWithProjection, path, "clip_vit_l14").eval().to(device)

    def run(x):
        with torch.no_grad():
            return {"clip": model(pixel_values=x.to(device)).image_embeds.float().cpu().numpy()}

    return run


_LOADED: dict[tuple, Callable] = {}


def _loaded(net: Network, path, device: str = "cpu") -> Callable:
    """``net.load(path, device)``, loaded once per process for an unchanged file: several evaluations (two
    conventions, a subject after another) share the networks instead of reading and tracing them again."""
    key = (net.key, str(Path(path).resolve()), Path(path).stat().st_mtime_ns, str(device))
    if key not in _LOADED:
        _LOADED[key] = net.load(path, device)
    return _LOADED[key]


def networks() -> list[Network]:
    """The feature networks of the six network metrics."""
    # heavy (torchvision): imported where used
    from torchvision.models import alexnet, efficientnet_b1, inception_v3

    return [
        Network("alexnet", 256, IMAGENET_MEAN, IMAGENET_STD,
                _torchvision(alexnet, {"features.4": "alexnet2", "features.11": "alexnet5"}), ("alexnet2", "alexnet5")),
        Network("inception_v3", 342, IMAGENET_MEAN, IMAGENET_STD,
                _torchvision(inception_v3, {"avgpool": "inception"}, aux_logits=True, init_weights=False),
                ("inception",)),
        Network("clip_vit_l14", 224, CLIP_MEAN, CLIP_STD, _clip, ("clip",)),  # the one CLIP normalisation
        Network("efficientnet_b1", 255, IMAGENET_MEAN, IMAGENET_STD,
                _torchvision(efficientnet_b1, {"avgpool": "effnet_b"}), ("effnet_b",)),
        Network("swav_resnet50", 224, IMAGENET_MEAN, IMAGENET_STD, _swav, ("swav",)),
    ]


def _to_tensor(images: np.ndarray):
    # heavy (torch): imported where used
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return x / 255.0 if np.asarray(images).dtype == np.uint8 else x


def network_input(images: np.ndarray, net: Network, convention: str):
    """Images (B, H, W, 3), uint8 in [0, 255] or float in [0, 1] -> normalised (B, 3, S, S) at the network's size
    under ``convention``."""
    # heavy (torch, torchvision): imported where used
    import torch
    from torchvision.transforms.functional import resize

    x = _to_tensor(images)
    if convention == "mindeye":
        x = resize(x, [MINDEYE_FIRST_SIZE] * 2, antialias=True)
        size = net.size
    else:
        size = BRAINDIFFUSER_SIZE
    x = resize(x, [size, size], antialias=True)
    mean = torch.tensor(net.mean).view(1, 3, 1, 1)
    std = torch.tensor(net.std).view(1, 3, 1, 1)
    return (x - mean) / std


def correlation_distance(pred_feats: np.ndarray, true_feats: np.ndarray) -> np.ndarray:
    """1 - Pearson r between each reconstructed and true feature vector (n,)."""
    t = np.asarray(true_feats, np.float64)
    r = np.asarray(pred_feats, np.float64)
    return 1.0 - basic.columnwise_r(r.T, t.T)


def image_metrics(recons: np.ndarray, stimuli: np.ndarray, weights_root=None, convention: str = "mindeye",
                  batch_size: int = 32, progress: bool = True, device: str = "cpu") -> tuple[dict, dict]:
    """The registered metrics of ``recons`` against ``stimuli`` ((n, H, W, 3), same order, both uint8 in [0, 255]
    or both float in [0, 1]: see ``image_convention``); the feature networks run on ``device``, ``batch_size``
    images at a time.

    Returns (metrics: name -> float or {"unavailable": reason}, per_image: name -> (n,) scores). With
    ``weights_root=None`` only the metrics that need no weights (PixCorr, SSIM) are computed. Reconstructions of
    another size are resized (bicubic) to the stimuli's for PixCorr and SSIM.
    """
    if convention not in CONVENTIONS:
        raise InputError(f"convention must be one of {CONVENTIONS}; got {convention!r}")
    recons, stimuli = np.asarray(recons), np.asarray(stimuli)
    if len(stimuli) != len(recons) or len(stimuli) < 2:
        raise InputError(f"need >= 2 paired images; got {len(stimuli)} stimuli and {len(recons)} reconstructions")
    kind = check_pair(recons, stimuli)
    if recons.shape[1:3] != stimuli.shape[1:3]:
        resized = resize_images(recons if kind == "uint8" else np.round(np.asarray(recons) * 255).astype(np.uint8),
                                stimuli.shape[1:3])
        recons = resized if kind == "uint8" else resized / np.float32(255)
    per_image, out = {}, {}
    for m in REGISTRY.values():
        if m.per_image is not None:
            per_image[m.name] = np.asarray(m.per_image(recons, stimuli), dtype=np.float64)
            out[m.name] = float(np.nanmean(per_image[m.name]))
    for net in networks() if weights_root is not None else ():
        try:
            run = _loaded(net, require(net.key, weights_root), device)
        except DataError as exc:
            for m in net.metrics:
                out[m] = {"unavailable": " ".join(line.strip() for line in str(exc).splitlines() if line.strip())}
            continue
        feats = {m: ([], []) for m in net.metrics}
        for a in tqdm(range(0, len(stimuli), batch_size), desc=net.key, disable=not progress):
            for side, images in enumerate((stimuli[a : a + batch_size], recons[a : a + batch_size])):
                for m, f in run(network_input(images, net, convention)).items():
                    feats[m][side].append(f)
        for m, (t, r) in feats.items():
            t, r = np.concatenate(t), np.concatenate(r)
            if REGISTRY[m].higher_is_better:
                per_image[m] = basic.identification_per_image(r, t)
            else:
                per_image[m] = correlation_distance(r, t)
            out[m] = float(np.mean(per_image[m]))
    return {m: out[m] for m in REGISTRY if m in out}, per_image


def score_images(recons: np.ndarray, stimuli: np.ndarray, weights_root=None, convention: str = "mindeye",
                 device: str = "cpu", progress: bool = False) -> dict:
    """Every metric available for reconstructions against the seen stimuli, averaged over images.

    Parameters
    ----------
    recons : ndarray of shape (n, h, w, 3)
        The reconstructions: uint8 in [0, 255] or float in [0, 1], the same kind as ``stimuli`` (else an
        ``InputError``); another size than the stimuli's is resized (bicubic) to it for PixCorr and SSIM.
    stimuli : ndarray of shape (n, H, W, 3)
        The seen images, in the same order (NSD: 425 x 425 uint8).
    weights_root : str or Path, optional
        The folder of local network weights (``fetch-weights``). Without it only the metrics that need no weights
        are computed (PixCorr, SSIM); with it, the eight NSD metrics.
    convention : {"mindeye", "braindiffuser"}
        How images are resized for the networks: to 256 and then each network's size (MindEye), or every input to
        224 (Brain-Diffuser).
    device : str
        Where the networks run ("cpu", "cuda").
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict of str to float
        {metric: value}: ``pixcorr`` and ``ssim`` in [-1, 1]; ``alexnet2``, ``alexnet5``, ``inception``, ``clip``
        as two-way identification fractions in [0, 1] (chance 0.5); ``effnet_b`` and ``swav`` as correlation
        distances (1 - r, lower is better). A network whose weights are missing gives ``{"unavailable": reason}``.
    """
    return image_metrics(recons, stimuli, weights_root, convention=convention, progress=progress, device=device)[0]


def embedding_scores(pred: np.ndarray, true: np.ndarray) -> dict:
    """Embedding-level scores of predictions (n, ...) against true features (n, ...) of the same test images.

    mean_r: held-out r per target, averaged; retrieval_top1: fraction of predictions whose most correlated true
    embedding among the n is their own (chance 1/n); two_way: two-way identification in embedding space.
    """
    n = len(pred)
    p = np.asarray(pred, np.float64).reshape(n, -1)
    t = np.asarray(true, np.float64).reshape(n, -1)
    r = basic.columnwise_r(p, t)
    pz = (p - p.mean(1, keepdims=True)) / p.std(1, keepdims=True)
    tz = (t - t.mean(1, keepdims=True)) / t.std(1, keepdims=True)
    corr = pz @ tz.T / p.shape[1]  # corr[j, i] = corr(pred_j, true_i)
    return {"mean_r": float(np.nanmean(r)), "median_r": float(np.nanmedian(r)), "n_targets": int(r.size),
            "retrieval_top1": float(np.mean(np.argmax(corr, axis=1) == np.arange(n))), "retrieval_chance": 1.0 / n,
            "two_way": basic.two_way_identification(p, t)}
