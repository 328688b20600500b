"""``ipadapter_plus``: the 16 x 768 IP-Adapter-Plus image tokens of each stimulus, and the constant negative tokens.

Image -> OpenCLIP ViT-H/14 (IP-Adapter's ``models/image_encoder``), penultimate hidden states (257 x 1280) ->
the IP-Adapter-Plus Resampler loaded from ``ip-adapter-plus_sd15.bin`` -> 16 x 768 tokens. These tokens are what
the decoder feeds to Stable Diffusion's decoupled cross-attention, so the ridge predicts them directly.

The negative (unconditional) tokens are the Resampler's output for an all-zero *pixel tensor* (after
preprocessing), as tencent's code and diffusers compute them; not for a black image, and not zeros. They are
stored once in the family's file as ``negative`` (16 x 768).

The Resampler is written here from its definition (a Perceiver: learned queries cross-attend to the projected
image states and to themselves) and loaded from the checkpoint's ``image_proj`` weights in tencent's key layout.
The tests compare it with diffusers' ``IPAdapterPlusImageProjection`` loaded from the same file.
"""

from __future__ import annotations

import numpy as np

from ..errors import WeightsFormatError
from ..weights import clip_processor, describe_files, from_pretrained, torch_dtype, torch_load, weight_path
from .preprocess import clip_input

NAME = "ipadapter_plus"
SHAPE = (16, 768)
HEAD_WIDTH = 64  # channels per attention head in IP-Adapter-Plus (heads = inner width // 64)
FF_MULT = 4
CHECKPOINT_KEY, ENCODER_KEY = "ipadapter_plus", "ipadapter_image_encoder"


def _torch_modules():
    # heavy (torch): imported where used
    import torch
    from torch import nn

    class PerceiverAttention(nn.Module):
        """Queries (the latents) attend to the image states and to themselves; keys and values share one matrix."""

        def __init__(self, dim: int, inner: int, heads: int):
            super().__init__()
            self.heads = heads
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.to_q = nn.Linear(dim, inner, bias=False)
            self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
            self.to_out = nn.Linear(inner, dim, bias=False)

        def forward(self, x, latents):
            x, latents = self.norm1(x), self.norm2(latents)
            b, q_len, _ = latents.shape
            q = self.to_q(latents)
            k, v = self.to_kv(torch.cat([x, latents], dim=1)).chunk(2, dim=-1)
            q, k, v = (t.reshape(b, t.shape[1], self.heads, -1).transpose(1, 2) for t in (q, k, v))
            attn = torch.softmax((q @ k.transpose(-2, -1)).float() / q.shape[-1] ** 0.5, dim=-1).to(q.dtype)
            out = (attn @ v).transpose(1, 2).reshape(b, q_len, -1)
            return self.to_out(out)

    class Resampler(nn.Module):
        """IP-Adapter-Plus image projection: (B, 257, embed) CLIP states -> (B, queries, output) tokens."""

        def __init__(self, embed_dim: int, dim: int, inner: int, output_dim: int, queries: int, depth: int,
                     ff_inner: int):
            super().__init__()
            self.latents = nn.Parameter(torch.zeros(1, queries, dim))
            self.proj_in = nn.Linear(embed_dim, dim)
            self.proj_out = nn.Linear(dim, output_dim)
            self.norm_out = nn.LayerNorm(output_dim)
            self.layers = nn.ModuleList(
                nn.ModuleList([
                    PerceiverAttention(dim, inner, inner // HEAD_WIDTH),
                    nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, ff_inner, bias=False), nn.GELU(),
                                  nn.Linear(ff_inner, dim, bias=False)),
                ])
                for _ in range(depth)
            )

        def forward(self, x):
            latents = self.latents.expand(x.shape[0], -1, -1)
            x = self.proj_in(x)
            for attn, ff in self.layers:
                latents = attn(x, latents) + latents
                latents = ff(latents) + latents
            return self.norm_out(self.proj_out(latents))

    return Resampler


def load_resampler(state: dict):
    """The Resampler with its shapes read from tencent-layout ``image_proj`` weights, and those weights loaded."""
    Resampler = _torch_modules()
    need = ("latents", "proj_in.weight", "proj_out.weight", "layers.0.0.to_q.weight", "layers.0.1.1.weight")
    missing = [k for k in need if k not in state]
    if missing:
        raise WeightsFormatError(f"IP-Adapter-Plus image_proj weights lack {missing}: not a Plus checkpoint? "
                              f"found keys like {sorted(state)[:6]}")
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("layers."))
    _, queries, dim = state["latents"].shape
    model = Resampler(embed_dim=state["proj_in.weight"].shape[1], dim=dim,
                      inner=state["layers.0.0.to_q.weight"].shape[0], output_dim=state["proj_out.weight"].shape[0],
                      queries=queries, depth=depth, ff_inner=state["layers.0.1.1.weight"].shape[0])
    model.load_state_dict(state, strict=True)
    return model.eval()


class IPAdapterPlus:
    """Extractor: uint8 images (n, H, W, 3) -> float32 tokens (n, queries, width); ``negative()`` once."""

    inputs = "images"

    def __init__(self, weights_root, device: str = "cpu", dtype: str = "float32"):
        # heavy (transformers): imported where used
        from transformers import CLIPVisionModelWithProjection

        ckpt_path = weight_path(CHECKPOINT_KEY, weights_root)
        enc_path = weight_path(ENCODER_KEY, weights_root)
        ckpt = torch_load(ckpt_path, CHECKPOINT_KEY)
        if "image_proj" not in ckpt:
            from ..errors import WeightsFormatError

            raise WeightsFormatError(f"{ckpt_path}: expected keys 'image_proj' and 'ip_adapter'; found {sorted(ckpt)}")
        self.device, self.dtype = device, torch_dtype(device, dtype)
        self.resampler = load_resampler(ckpt["image_proj"]).to(device, self.dtype)
        self.encoder = from_pretrained(CLIPVisionModelWithProjection, enc_path, ENCODER_KEY,
                                       dtype=self.dtype).to(device).eval()
        self.processor = clip_processor(enc_path, self.encoder.config.image_size)
        self.shape = (self.resampler.latents.shape[1], self.resampler.norm_out.normalized_shape[0])
        self.files = {"checkpoint": describe_files(ckpt_path), "image_encoder": describe_files(enc_path)}
        self.preprocessing = ("CLIP: shortest side to the encoder's size (bicubic), centre crop, CLIP mean/std; "
                              "penultimate hidden states -> IP-Adapter-Plus Resampler")

    def _tokens(self, pixel_values):
        # heavy (torch): imported where used
        import torch

        with torch.no_grad():
            states = self.encoder(pixel_values.to(self.device, self.dtype), output_hidden_states=True).hidden_states
            return self.resampler(states[-2]).float().cpu().numpy()

    def prepare(self, images: np.ndarray):
        """uint8 images (n, H, W, 3) -> the encoder's pixel values on the device."""
        return clip_input(images, self.processor, self.device, self.dtype)

    def forward(self, pixel_values) -> np.ndarray:
        """Prepared pixel values -> tokens (n, queries, width) on the host: the models alone."""
        return self._tokens(pixel_values)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.forward(self.prepare(images))

    def negative(self) -> np.ndarray:
        """The constant unconditional tokens (queries, width): the Resampler's output for a zero pixel tensor."""
        # heavy (torch): imported where used
        import torch

        size = self.encoder.config.image_size
        return self._tokens(torch.zeros(1, 3, size, size))[0]

    def extras(self) -> dict[str, np.ndarray]:
        return {"negative": self.negative()}
