"""Predicted features -> images with IP-Adapter-Plus Stable Diffusion 1.5, img2img from the predicted latent.

Conditioning:
- IP tokens: the predicted 16 x 768 IP-Adapter-Plus tokens are injected directly, bypassing the Resampler (the
  UNet's image projection is replaced by an identity); the negative side is the constant negative tokens of the
  feature cache.
- Text: the predicted CLIP text tokens as prompt embeddings, or the empty prompt.

Sampling is this module's own DDIM loop rather than diffusers' pipeline call, for three reasons: the stock
pipeline mixes samples when given per-sample image embeddings in one batch (diffusers issue 9813), strength 0
would run zero steps, and guidance needs a hook inside each step. Each sample draws its noise from its own
generator, seeded by (seed, image id, sample index), so results do not depend on the batch size.

Guidance (optional, off by default) follows NeuralDiffuser: during the first ``eta`` fraction of the denoising
steps, the x0 estimate is decoded by the VAE, its pooled CLIP layer features (``clip_layers``'s definition, passed
in as ``feature_fn``) are compared with the predicted ones, and the gradient of that loss with respect to the
current latent, scaled by ``kappa``, corrects the noise prediction. The gradient treats the UNet's noise
prediction as constant (it flows through the x0 formula, the VAE decoder and CLIP), which avoids back-propagating
through the UNet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from ..features.clip_layers import ClipLayers, differentiable_features
from ..runtime import layout
from ..runtime.io import write_json
from ..weights import from_pretrained, torch_dtype, torch_load, weight_path, without_log_messages

NAME = "diffusion"
# Defaults and where they come from (see docs/decoding.md): 50 DDIM steps, strength 0.75, CFG 7.5, kappa 3e5 and
# eta 0.2 are NeuralDiffuser's (Li et al. 2024); IP-Adapter scale 1.0 is IP-Adapter's for image-only prompting.
DEFAULT_STEPS = 50
DEFAULT_STRENGTH = 0.75
DEFAULT_CFG = 7.5
DEFAULT_IP_SCALE = 1.0
DEFAULT_KAPPA = 0.0  # guidance is off unless asked for; NeuralDiffuser used 3e5
DEFAULT_ETA = 0.2


@dataclass
class SamplerConfig:
    """Sampling knobs (see docs/decoding.md for each default's source)."""

    steps: int = DEFAULT_STEPS
    strength: float = DEFAULT_STRENGTH
    cfg: float = DEFAULT_CFG
    ip_scale: float = DEFAULT_IP_SCALE
    kappa: float = DEFAULT_KAPPA
    eta: float = DEFAULT_ETA
    seed: int = 0
    sample: int = 0  # which sample of each image: its noise is drawn from (seed, image id, sample)

    def check(self):
        if self.steps < 1:
            raise InputError(f"steps must be >= 1; got {self.steps}")
        if not 0.0 <= self.strength <= 1.0:
            raise InputError(f"strength must be in [0, 1]; got {self.strength}")
        if not 0.0 <= self.eta <= 1.0:
            raise InputError(f"eta must be in [0, 1]; got {self.eta}")
        if self.kappa < 0:
            raise InputError(f"kappa must be >= 0; got {self.kappa}")


def sample_seed(seed: int, image_id: int, k: int) -> int:
    """The seed of sample ``k`` of image ``image_id``: independent of batching and of the other images."""
    digest = hashlib.sha256(f"{seed}:{int(image_id)}:{k}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def load_pipeline(weights_root, device: str = "cpu", dtype: str = "float32", ip_adapter: bool = True):
    """SD 1.5 (+ IP-Adapter-Plus, Resampler bypassed) from local weights; returns a diffusers pipeline."""
    # heavy (torch, diffusers, transformers): imported where used
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    path = weight_path("sd15", weights_root)
    tdtype = torch_dtype(device, dtype)
    parts = {
        "unet": from_pretrained(UNet2DConditionModel, path, "sd15", subfolder="unet", dtype=tdtype),
        "vae": from_pretrained(AutoencoderKL, path, "sd15", subfolder="vae", dtype=tdtype),
        "text_encoder": from_pretrained(CLIPTextModel, path, "sd15", subfolder="text_encoder", dtype=tdtype),
        "tokenizer": from_pretrained(CLIPTokenizer, path, "sd15", subfolder="tokenizer"),
        "scheduler": from_pretrained(DDIMScheduler, path, "sd15", subfolder="scheduler"),
    }
    pipe = StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None, image_encoder=None,
                                   requires_safety_checker=False)
    if ip_adapter:
        ckpt = torch_load(weight_path("ipadapter_plus", weights_root), "ipadapter_plus")
        # Two messages of diffusers' loader that say nothing about this use (docs/decoding.md): no image encoder is
        # wanted (the tokens are predicted), and the UNet is cast to its own dtype with no float32-only modules.
        with without_log_messages("diffusers.loaders.ip_adapter", "image_encoder is not loaded"), \
                without_log_messages("diffusers.models.modeling_utils",
                                     "There are modules in UNet2DConditionModel that should be kept in float32: []."):
            pipe.load_ip_adapter(ckpt, subfolder="", weight_name="", image_encoder_folder=None,
                                 low_cpu_mem_usage=False)
        # the predicted tokens are already the Resampler's output: bypass it
        pipe.unet.encoder_hid_proj.image_projection_layers[0] = torch.nn.Identity()
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def empty_prompt_embeds(pipe):
    """The text encoder's embedding of the empty prompt (1, 77, width): the unconditional text side."""
    # heavy (torch): imported where used
    import torch

    tokens = pipe.tokenizer([""], padding="max_length", max_length=pipe.tokenizer.model_max_length,
                            return_tensors="pt")
    with torch.no_grad():
        return pipe.text_encoder(tokens["input_ids"].to(pipe.device))[0]


def _decode(pipe, latents):
    """Latents -> images (B, 3, H, W) in [0, 1], differentiable."""
    scale = pipe.vae.config.scaling_factor
    return (pipe.vae.decode(latents / scale).sample / 2 + 0.5).clamp(0, 1)


@dataclass
class Guidance:
    """What guided steps compare: ``targets`` (B, ...) the predicted ``clip_layers`` of the batch, and
    ``feature_fn(images in [0, 1], (B, 3, H, W)) -> the same pooled features``; ``log`` (a list) receives one dict
    per guided step."""

    targets: object
    feature_fn: object
    log: list | None = None


def decode_batch(pipe, init_latents, ip_tokens, negative_tokens, config: SamplerConfig, image_ids,
                 text_embeds=None, guidance: Guidance | None = None):
    """Images (B, H, W, 3) uint8 for one batch of predictions.

    init_latents (B, 4, h, w): predicted, already scaled AutoKL latents. ip_tokens (B, Q, D) predicted IP tokens,
    or None to run without the adapter. negative_tokens (Q, D). text_embeds (B, 77, D) or None for the empty
    prompt. ``guidance`` is needed when ``config.kappa > 0``.
    """
    # heavy (torch): imported where used
    import torch

    config.check()
    device, dtype = pipe.device, pipe.unet.dtype
    B = len(init_latents)
    x0 = torch.as_tensor(np.asarray(init_latents), dtype=dtype, device=device)
    n_steps = min(int(round(config.steps * config.strength)), config.steps)
    if n_steps == 0:  # strength 0 (or too small for one step): no denoising, the decoded predicted latent itself
        with torch.no_grad():
            return _to_uint8(_decode(pipe, x0))

    if ip_tokens is not None:
        pipe.set_ip_adapter_scale(config.ip_scale)
    empty = empty_prompt_embeds(pipe).to(dtype)
    cond_text = empty.expand(B, -1, -1) if text_embeds is None else torch.as_tensor(
        np.asarray(text_embeds), dtype=dtype, device=device)
    use_cfg = config.cfg != 1.0
    text = torch.cat([empty.expand(B, -1, -1), cond_text]) if use_cfg else cond_text
    added = None
    if ip_tokens is not None:
        pos = torch.as_tensor(np.asarray(ip_tokens), dtype=dtype, device=device)
        neg = torch.as_tensor(np.asarray(negative_tokens), dtype=dtype, device=device).expand_as(pos)
        added = {"image_embeds": [(torch.cat([neg, pos]) if use_cfg else pos)[:, None]]}

    scheduler = pipe.scheduler
    scheduler.set_timesteps(config.steps, device=device)
    timesteps = scheduler.timesteps[config.steps - n_steps:]
    noise = torch.stack([
        torch.randn(x0.shape[1:], generator=torch.Generator().manual_seed(sample_seed(config.seed, i, config.sample)))
        for i in image_ids
    ]).to(device, dtype)
    latents = scheduler.add_noise(x0, noise, timesteps[:1].repeat(B))
    n_guided = int(config.eta * len(timesteps)) if config.kappa > 0 else 0
    if n_guided and guidance is None:
        raise InputError("guidance (kappa > 0) needs the predicted clip_layers features and a feature function")
    if n_guided:
        targets = torch.as_tensor(np.asarray(guidance.targets), dtype=torch.float32, device=device)
        guide = (targets, guidance.feature_fn, config.kappa, guidance.log)

    for step, t in enumerate(timesteps):
        latent_in = torch.cat([latents, latents]) if use_cfg else latents
        with torch.no_grad():
            eps = pipe.unet(latent_in, t, encoder_hidden_states=text, added_cond_kwargs=added).sample
        eps_c = eps
        if use_cfg:
            eps_u, eps_c = eps.chunk(2)
            eps = eps_u + config.cfg * (eps_c - eps_u)
        if step < n_guided:
            eps = eps + _guidance_term(pipe, latents, eps_c, t, step, guide)
        latents = scheduler.step(eps, t, latents).prev_sample
    with torch.no_grad():
        return _to_uint8(_decode(pipe, latents))


def guidance_loss(features, targets):
    """NeuralDiffuser's weighted multi-layer loss: per-layer MSE, weights proportional to 1/||target_l||.

    features and targets (B, L, ...); returns one loss per sample (B,).
    """
    # heavy (torch): imported where used
    import torch

    dims = tuple(range(2, targets.dim()))
    norms = targets.flatten(2).norm(dim=2)  # (B, L)
    weights = (1.0 / norms.clamp_min(1e-8))
    weights = weights / weights.sum(dim=1, keepdim=True)
    mse = ((features - targets) ** 2).mean(dim=dims)  # (B, L)
    return torch.sum(weights * mse, dim=1)


def _guidance_term(pipe, latents, eps_cond, t, step, guide):
    """One guided step's correction of the noise prediction: ``sqrt(1 - alpha_bar_t) * kappa * d loss / d z_t``
    (adding it makes the loss decrease). ``guide`` is (targets, feature_fn, kappa, log).

    x0 is estimated from the conditional noise prediction ``eps_cond``, as NeuralDiffuser does.
    """
    # heavy (torch): imported where used
    import torch

    targets, feature_fn, kappa, log = guide
    alpha_bar = pipe.scheduler.alphas_cumprod[int(t)].to(latents.device, torch.float32)
    with torch.enable_grad():
        z = latents.detach().float().requires_grad_(True)
        x0 = (z - (1 - alpha_bar).sqrt() * eps_cond.detach().float()) / alpha_bar.sqrt()
        feats = feature_fn(_decode(pipe, x0.to(pipe.vae.dtype)))
        losses = guidance_loss(feats.float(), targets)
        (grad,) = torch.autograd.grad(losses.sum(), z)
    if log is not None:
        log.append({"step": step, "timestep": int(t), "loss": losses.detach().cpu().tolist()})
    return ((1 - alpha_bar).sqrt() * kappa * grad).to(eps_cond.dtype)


def _to_uint8(images) -> np.ndarray:
    return (images.permute(0, 2, 3, 1).float().cpu().numpy() * 255 + 0.5).astype(np.uint8)


def decoder(ctx) -> tuple:
    """The decoder registry's entry point (``decode.DECODERS``): IP-Adapter-Plus SD 1.5 img2img from the predicted
    latent and tokens (and the predicted text tokens, guidance), with the sampler of ``ctx``."""
    sampler = ctx.sampler or SamplerConfig()
    sampler.check()
    pred = ctx.pred
    latents = pred.need("autokl", "the img2img starting latent")
    tokens = pred.need("ipadapter_plus", "the IP-Adapter tokens")
    text_pred = pred.need("clip_text", "--text predicted") if ctx.text == "predicted" else None
    clip_pred = pred.need("clip_layers", "guidance, --kappa > 0") if sampler.kappa > 0 else None
    negative = ctx.features.extra("ipadapter_plus", "negative")
    pipe = load_pipeline(ctx.weights_root, device=ctx.device, dtype=ctx.dtype)
    feature_fn = None
    if sampler.kappa > 0:
        clip = ClipLayers(ctx.weights_root, device=ctx.device, dtype=ctx.dtype).model
        feature_fn = lambda images: differentiable_features(clip, images)  # noqa: E731
    log: list = []

    def make(rows, k):
        images = decode_batch(pipe, latents[rows], tokens[rows], negative, replace(sampler, sample=k), pred.ids[rows],
                              text_embeds=None if text_pred is None else text_pred[rows],
                              guidance=None if clip_pred is None else Guidance(clip_pred[rows], feature_fn, log))
        if log and ctx.out is not None:
            write_json(ctx.out / layout.GUIDANCE_LOG, log)
        return images

    extra = {"decoder_name": NAME, "steps": sampler.steps, "strength": sampler.strength, "cfg": sampler.cfg,
             "ip_scale": sampler.ip_scale, "text": ctx.text, "kappa": sampler.kappa, "eta": sampler.eta,
             "device": ctx.device, "dtype": ctx.dtype, "weights_root": str(ctx.weights_root),
             "negative_tokens": str(ctx.features.path("ipadapter_plus"))}
    return make, extra
