"""Local model weights for the feature families: where they are, loading them, and clear errors when they are not.

Weights are files and folders declared in ``data_manifest.yaml`` under a weights root (``--weights-root``, else
``$RIDGE_DECODE_WEIGHTS``, else ``<data root>/weights``). They are loaded with ``from_pretrained(path,
local_files_only=True)`` or ``torch.load(weights_only=True)``: a hub is never contacted.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path

from ..errors import WeightsFormatError
from ..sources.manifest import load_manifest, require

# CLIP's image normalisation (OpenAI and OpenCLIP ViT-H/14 alike), for folders without a preprocessor config
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def weight_path(key: str, weights_root) -> Path:
    """Local path of manifest weight entry ``key``; a DataFileError names the entry and where to get it."""
    return require(key, weights_root)


def describe_files(path: Path) -> dict[str, int]:
    """Relative name -> size in bytes of a weight file, or of every file in a weight folder (for metadata)."""
    path = Path(path)
    if path.is_file():
        return {path.name: path.stat().st_size}
    return {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()}


def from_pretrained(cls, path: Path, key: str, **kwargs):
    """``cls.from_pretrained(path, local_files_only=True, **kwargs)``, with an error naming the entry if unreadable."""
    try:
        return cls.from_pretrained(path, local_files_only=True, **kwargs)
    except Exception as exc:  # noqa: BLE001 - safetensors, json and torch errors all mean "unreadable weights"
        entry = load_manifest()[key]
        sub = kwargs.get("subfolder")
        raise WeightsFormatError(
            f"{path}{'/' + sub if sub else ''} (manifest entry {key!r}) could not be loaded as "
            f"{cls.__name__}: {type(exc).__name__}: {str(exc)[:300]}\nIt should be {entry.source}"
        ) from exc


# Keys of a full CLIP checkpoint that a vision tower loaded out of it does not use
CLIP_TEXT_SIDE = ("text_model.", "text_projection.", "logit_scale", "visual_projection.")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _DropReport(logging.Filter):
    """Drops a transformers load report whose every row is an UNEXPECTED key starting with one of ``prefixes``;
    any other report (a missing key, a mismatched shape, another unexpected key) passes unchanged."""

    def __init__(self, prefixes: tuple[str, ...]):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        text = _ANSI.sub("", record.getMessage())
        if "LOAD REPORT" not in text:
            return True
        rows = [[c.strip() for c in line.split("|")] for line in text.splitlines() if line.count("|") >= 2]
        rows = [r for r in rows if r[0] and r[0] != "Key"]
        return not rows or not all(r[1] == "UNEXPECTED" and r[0].startswith(self.prefixes) for r in rows)


def vision_tower_from_clip(cls, path: Path, key: str, **kwargs):
    """A CLIP vision model (``cls``) from a full CLIP checkpoint, without the report of the unused text-side keys.

    transformers lists every key of the checkpoint that the vision model does not use (the whole text tower) as
    UNEXPECTED, which reads as an error. Only that report is silenced; any other loading problem is still shown.
    """
    logger = logging.getLogger("transformers.modeling_utils")
    report_filter = _DropReport(CLIP_TEXT_SIDE)
    logger.addFilter(report_filter)
    try:
        return from_pretrained(cls, path, key, **kwargs)
    finally:
        logger.removeFilter(report_filter)


@contextlib.contextmanager
def without_log_messages(logger_name: str, *starts: str):
    """Within the block, drop the records of logger ``logger_name`` whose message starts with one of ``starts``."""

    class _Drop(logging.Filter):
        def filter(self, record):
            return not record.getMessage().startswith(starts)

    logger = logging.getLogger(logger_name)
    drop = _Drop()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def torch_load(path: Path, key: str) -> dict:
    """A torch checkpoint as a dict of tensors, with an error naming the entry if it is corrupt."""
    # heavy (torch): imported where used
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and torch errors all mean "not a readable checkpoint"
        raise WeightsFormatError(f"{path} (manifest entry {key!r}) is not a readable torch checkpoint: "
                              f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    if not isinstance(obj, dict):
        raise WeightsFormatError(f"{path} (manifest entry {key!r}): expected a dict of tensors; found {type(obj)}")
    return obj


def torch_dtype(device: str, dtype: str):
    """The compute dtype: float16 only on CUDA (CPU kernels for half precision are slow or missing)."""
    # heavy (torch): imported where used
    import torch

    return torch.float16 if dtype == "float16" and str(device).startswith("cuda") else torch.float32


def clip_processor(folder: Path, image_size: int):
    """The folder's CLIPImageProcessor if it has a config, else CLIP's standard one at ``image_size``.

    IP-Adapter's ``models/image_encoder`` folder ships without a preprocessor config; tencent's and diffusers'
    code use CLIP's standard preprocessing (shortest side to 224, bicubic, centre crop, CLIP mean and std).
    """
    # heavy (transformers): imported where used
    from transformers import CLIPImageProcessor

    if (Path(folder) / "preprocessor_config.json").exists():
        return CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
    return CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
                              image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), do_convert_rgb=True)
