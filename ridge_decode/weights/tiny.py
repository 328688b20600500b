"""Tiny random-weight models in the exact folder layout of the manifest's weights, built from configs.

For tests, timing of the code paths and dry runs of the whole pipeline without the real weights (which
``fetch-weights`` downloads). Each model is saved with ``save_pretrained`` (or ``torch.save`` for IP-Adapter's
checkpoint) and the package then loads it through the same code path as the real weights; the digests of what was
written are recorded as fetch-weights records them (``fetched_weights.json``). Their outputs are
meaningless; their shapes are small (e.g. IP tokens 4 x 8 instead of 16 x 768).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..sources.manifest import entry_path
from .fetch_weights import record_folder

TEXT_HIDDEN = 8  # the tiny UNet's cross-attention width, and the tiny IP tokens' width
VISION_HIDDEN = 32
RESAMPLER_DIM = 64  # a multiple of 64: diffusers infers heads = rows of to_q // 64
IP_QUERIES = 4
RESAMPLER_DEPTH = 4  # diffusers builds the Plus Resampler with depth 4
TINY_ORIGIN = "tiny random weights (ridge_decode.weights.tiny)"  # what the weights record says of these files
# SD 1.5's pipeline index: the components the package loads, and the two it does not
MODEL_INDEX = {"_class_name": "StableDiffusionPipeline", "feature_extractor": [None, None],
               "safety_checker": [None, None], "scheduler": ["diffusers", "DDIMScheduler"],
               "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
               "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}


def _tiny_clip_vision_config(projection_dim: int = 32):
    # heavy (transformers): imported where used
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(hidden_size=VISION_HIDDEN, image_size=224, patch_size=14, num_hidden_layers=5,
                            num_attention_heads=4, intermediate_size=37, projection_dim=projection_dim)


def _tiny_text_config():
    # heavy (transformers): imported where used
    from transformers import CLIPTextConfig

    return CLIPTextConfig(hidden_size=TEXT_HIDDEN, intermediate_size=16, num_attention_heads=2, num_hidden_layers=2,
                          vocab_size=1000, bos_token_id=0, eos_token_id=2, pad_token_id=1, projection_dim=8)


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (GPT-2's mapping)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(
        range(ord("\xae"), ord("\xff") + 1))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return [out[b] for b in range(256)]


def _tiny_tokenizer(folder: Path):
    """A byte-level CLIP tokenizer with no merges (each word is split into characters), written in SD 1.5's
    tokenizer layout (vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json)."""
    chars = _byte_symbols()
    tokens = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CLIPTokenizer",
                                                              "model_max_length": 77, **special}))


def resampler_state(seed: int = 0, queries: int = IP_QUERIES, dim: int = RESAMPLER_DIM,
                    vision: int = VISION_HIDDEN, out: int = TEXT_HIDDEN) -> dict[str, torch.Tensor]:
    """Random IP-Adapter-Plus ``image_proj`` weights in tencent's key layout: ``queries`` tokens of width ``out``
    from image-encoder states of width ``vision``, through ``RESAMPLER_DEPTH`` layers of width ``dim``."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=0.2):
        return torch.randn(*shape, generator=g) * scale

    d, ff = dim, 4 * dim
    state = {"latents": rnd(1, queries, d), "proj_in.weight": rnd(d, vision), "proj_in.bias": rnd(d),
             "proj_out.weight": rnd(out, d), "proj_out.bias": rnd(out),
             "norm_out.weight": 1 + rnd(out), "norm_out.bias": rnd(out)}
    for i in range(RESAMPLER_DEPTH):
        p = f"layers.{i}."
        for ln in ("0.norm1", "0.norm2", "1.0"):
            state[p + ln + ".weight"], state[p + ln + ".bias"] = 1 + rnd(d), rnd(d)
        state[p + "0.to_q.weight"] = rnd(d, d)
        state[p + "0.to_kv.weight"] = rnd(2 * d, d)
        state[p + "0.to_out.weight"] = rnd(d, d)
        state[p + "1.1.weight"] = rnd(ff, d)
        state[p + "1.3.weight"] = rnd(d, ff)
    return state


def tiny_unet():
    """A tiny SD-style UNet (cross-attention width TEXT_HIDDEN) from diffusers' own test configuration."""
    # heavy (diffusers): imported where used
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=8, norm_num_groups=2,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=TEXT_HIDDEN)


def ip_adapter_state(unet, seed: int = 0, width: int = TEXT_HIDDEN) -> dict[str, torch.Tensor]:
    """Random decoupled cross-attention weights ``{k}.to_k_ip.weight`` / ``{k}.to_v_ip.weight`` for ``unet``.

    k = 1, 3, 5, ... over the cross-attention processors in ``unet.attn_processors`` order, as in tencent's file.
    """
    g = torch.Generator().manual_seed(seed + 1)
    channels = list(unet.config.block_out_channels)
    state, key = {}, 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name.split(".")[1])]
        else:
            hidden = channels[int(name.split(".")[1])]
        for kind in ("to_k_ip", "to_v_ip"):
            state[f"{key}.{kind}.weight"] = torch.randn(hidden, width, generator=g) * 0.3
        key += 2
    return state


def make_tiny_weights(root: Path, seed: int = 0) -> Path:
    """Write every weight entry the feature families need under ``root``; returns ``root``."""
    # heavy (diffusers, transformers): imported where used
    from diffusers import AutoencoderKL, DDIMScheduler
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTextModel, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    sd = entry_path("sd15", root)
    AutoencoderKL(block_out_channels=[4, 4, 8, 8], down_block_types=["DownEncoderBlock2D"] * 4,
                  up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4, norm_num_groups=2,
                  sample_size=64).save_pretrained(sd / "vae")
    CLIPTextModel(_tiny_text_config()).save_pretrained(sd / "text_encoder")
    _tiny_tokenizer(sd / "tokenizer")
    unet = tiny_unet()
    unet.save_pretrained(sd / "unet")
    DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                  set_alpha_to_one=False, steps_offset=1).save_pretrained(sd / "scheduler")
    (sd / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2))

    CLIPVisionModelWithProjection(_tiny_clip_vision_config()).save_pretrained(
        entry_path("ipadapter_image_encoder", root))  # no preprocessor config, as in h94/IP-Adapter
    ckpt = entry_path("ipadapter_plus", root)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"image_proj": resampler_state(seed), "ip_adapter": ip_adapter_state(unet, seed)}, ckpt)

    clip = entry_path("clip_vit_l14", root)
    config = CLIPConfig(text_config=_tiny_text_config().to_dict(),
                        vision_config=_tiny_clip_vision_config(projection_dim=8).to_dict(), projection_dim=8)
    CLIPModel(config).save_pretrained(clip)
    CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(clip)
    for key in ("sd15", "ipadapter_plus", "ipadapter_image_encoder", "clip_vit_l14"):
        record_folder(root, key, entry_path(key, root), TINY_ORIGIN)
    return root


def make_tiny_metric_weights(root: Path, seed: int = 0) -> Path:
    """Randomly initialised metric networks (torchvision constructors, ``weights=None``) saved at the manifest's
    checkpoint paths: AlexNet, Inception v3, EfficientNet-B1, and a ResNet-50 in SwAV's release layout."""
    # heavy (torchvision): imported where used
    from torchvision.models import alexnet, efficientnet_b1, inception_v3, resnet50

    torch.manual_seed(seed)
    for key, model in (("alexnet", alexnet(weights=None)), ("efficientnet_b1", efficientnet_b1(weights=None)),
                       ("inception_v3", inception_v3(weights=None, aux_logits=True, init_weights=True))):
        path = entry_path(key, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
    swav = {f"module.{k}": v for k, v in resnet50(weights=None).state_dict().items() if not k.startswith("fc.")}
    swav["module.projection_head.0.weight"] = torch.zeros(8, 2048)
    path = entry_path("swav_resnet50", root)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(swav, path)
    for key in ("alexnet", "efficientnet_b1", "inception_v3", "swav_resnet50"):
        record_folder(root, key, entry_path(key, root), TINY_ORIGIN)
    return root


def make_fullsize_weights(root: Path, seed: int = 0) -> Path:
    """Random-weight models of the real architectures (SD 1.5's UNet, VAE and text encoder, IP-Adapter-Plus with
    its ViT-H/14 encoder, CLIP ViT-L/14), saved in float16 in the manifest's layout: what the real weights cost to
    run, without them (about 4 GB on disk; for a GPU, ``benchmarks/bench_pipeline.py --size full``)."""
    # heavy (diffusers, transformers): imported where used
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    torch.manual_seed(seed)
    sd, half = entry_path("sd15", root), {"safe_serialization": True}
    AutoencoderKL(block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4,
                  up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4, layers_per_block=2,
                  sample_size=512).half().save_pretrained(sd / "vae", **half)
    text = CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                          projection_dim=768, hidden_act="quick_gelu")
    CLIPTextModel(text).half().save_pretrained(sd / "text_encoder", **half)
    _tiny_tokenizer(sd / "tokenizer")
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8,
                                block_out_channels=(320, 640, 1280, 1280))
    unet.half().save_pretrained(sd / "unet", **half)
    DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                  set_alpha_to_one=False, steps_offset=1).save_pretrained(sd / "scheduler")
    (sd / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2))
    vit_h = CLIPVisionConfig(hidden_size=1280, intermediate_size=5120, num_attention_heads=16, num_hidden_layers=32,
                             patch_size=14, image_size=224, projection_dim=1024, hidden_act="gelu")
    CLIPVisionModelWithProjection(vit_h).half().save_pretrained(entry_path("ipadapter_image_encoder", root), **half)
    ckpt = entry_path("ipadapter_plus", root)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    proj = resampler_state(seed, queries=16, dim=768, vision=1280, out=768)  # 16 x 768 IP-Adapter-Plus tokens
    torch.save({"image_proj": {k: v.half() for k, v in proj.items()},
                "ip_adapter": {k: v.half() for k, v in ip_adapter_state(unet.float(), seed, width=768).items()}}, ckpt)
    vit_l = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24,
                             patch_size=14, image_size=224, projection_dim=768, hidden_act="quick_gelu")
    clip = entry_path("clip_vit_l14", root)
    CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vit_l.to_dict(), projection_dim=768)).half() \
        .save_pretrained(clip, **half)
    CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(clip)
    for key in ("sd15", "ipadapter_plus", "ipadapter_image_encoder", "clip_vit_l14"):
        record_folder(root, key, entry_path(key, root), "full-size random weights (ridge_decode.weights.tiny)")
    return root
