"""``clip_text``: SD 1.5's text encoder (CLIP ViT-L/14) on each stimulus's COCO captions, averaged: 77 x 768.

Each caption is tokenised to the encoder's 77 positions (padded, truncated), encoded, and the last hidden states
of an image's captions (usually 5) are averaged token by token. These are the ``prompt_embeds`` the decoder can
pass to Stable Diffusion. An image without captions is an error: its target would be meaningless.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..weights import describe_files, from_pretrained, torch_dtype, weight_path

NAME = "clip_text"
SHAPE = (77, 768)
WEIGHTS_KEY = "sd15"


class ClipText:
    """Extractor: a list of caption lists (one per image) -> float32 (n, 77, width)."""

    inputs = "captions"

    def __init__(self, weights_root, device: str = "cpu", dtype: str = "float32"):
        # heavy (transformers): imported where used
        from transformers import CLIPTextModel, CLIPTokenizer

        path = weight_path(WEIGHTS_KEY, weights_root)
        self.device, self.dtype = device, torch_dtype(device, dtype)
        self.tokenizer = from_pretrained(CLIPTokenizer, path, WEIGHTS_KEY, subfolder="tokenizer")
        self.encoder = from_pretrained(CLIPTextModel, path, WEIGHTS_KEY, subfolder="text_encoder",
                                       dtype=self.dtype).to(device).eval()
        self.length = int(self.tokenizer.model_max_length)
        self.shape = (self.length, self.encoder.config.hidden_size)
        self.files = {"tokenizer": describe_files(path / "tokenizer"),
                      "text_encoder": describe_files(path / "text_encoder")}
        self.preprocessing = (f"each caption padded/truncated to {self.length} tokens; last hidden state; "
                              "mean over the image's captions")

    def prepare(self, captions: list[list[str]], ids=None):
        """Each image's captions -> (token ids of every caption on the device, captions per image)."""
        empty = [i for i, caps in enumerate(captions) if not caps]
        if empty:
            which = [int(ids[i]) for i in empty] if ids is not None else empty
            raise DataError(f"no captions for images {which[:10]}: clip_text needs at least one caption each")
        flat = [c for caps in captions for c in caps]
        tokens = self.tokenizer(flat, padding="max_length", max_length=self.length, truncation=True,
                                return_tensors="pt")
        return tokens["input_ids"].to(self.device), [len(caps) for caps in captions]

    def forward(self, prepared) -> np.ndarray:
        """Token ids and captions per image -> each image's mean last hidden state on the host: the model alone."""
        # heavy (torch): imported where used
        import torch

        input_ids, counts = prepared
        with torch.no_grad():
            states = self.encoder(input_ids).last_hidden_state.float().cpu().numpy()
        out, start = np.empty((len(counts),) + self.shape, np.float32), 0
        for i, n in enumerate(counts):
            out[i] = states[start : start + n].mean(axis=0)
            start += n
        return out

    def __call__(self, captions: list[list[str]], ids=None) -> np.ndarray:
        return self.forward(self.prepare(captions, ids))

    def extras(self) -> dict[str, np.ndarray]:
        return {}
