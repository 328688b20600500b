"""Where a run's files live, what they are called, and how they are read back: one owner for every output path.

Defaults, relative to the working folder unless given:

| what | default | written by |
|---|---|---|
| data root | ``--data-root``, else ``$RIDGE_DECODE_DATA``, else the manifest's default | (input) |
| weights root | ``--weights-root``, else ``$RIDGE_DECODE_WEIGHTS``, else ``<data root>/weights`` | (input) |
| feature cache | the source's: ``<data root>/features``, or ``<stem>_features`` beside own data | extract-features |
| a fit | ``outputs/<label>``: ``model.h5``, ``predictions.h5``, ``summary.json``, ``fit_summary.png`` | fit |
| predictions of a fitted model on other betas | ``predict/<label>``: ``predictions.h5``, ``summary.json`` | predict |
| reconstructions | ``recon/<label>``: ``<id>.png`` (``<id>_<k>.png``, k > 0), ``grid.png``, ``config.json`` | decode |
| evaluation | ``eval/<label>``: ``metrics.json``, ``per_image.json``, ``report.md``, the ranked figure | evaluate |

``<label>`` is the source's label: ``subjNN`` for an NSD subject, the file's stem for own data, or ``--label``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataFileError, DataFormatError, InputError
from .io import atomic_path

OUTPUTS, PREDICT, RECON, EVAL = Path("outputs"), Path("predict"), Path("recon"), Path("eval")
FEATURES = "features"  # the feature cache's folder name under a data root or beside own data
MODEL, PREDICTIONS, SUMMARY, FIT_FIGURE = "model.h5", "predictions.h5", "summary.json", "fit_summary.png"
GRID, DECODE_CONFIG, GUIDANCE_LOG = "grid.png", "config.json", "guidance_log.json"
METRICS_JSON, PER_IMAGE, REPORT, RANKED = "metrics.json", "per_image.json", "report.md", "best_median_worst.png"
# A run's files are written beside its folder and committed together (ridge_decode.runtime.runs): the order is free.
FIT_FILES = (MODEL, PREDICTIONS, FIT_FIGURE, SUMMARY)
PREDICT_FILES = (PREDICTIONS, SUMMARY)


def subject_dir(base, subject: int) -> Path:
    """``<base>/subjNN``: the folder of NSD subject ``subject`` (its source's default label)."""
    return Path(base) / f"subj{int(subject):02d}"


def features_dir(features: str | Path | None, default: str | Path) -> Path:
    """The feature cache: ``features`` (``--features-dir``) if given, else the source's ``default``."""
    if features is not None:
        return folder(features, "--features-dir")
    return folder(default, "the source's feature cache")


def folder(path: str | Path, what: str) -> Path:
    """``path`` as a folder to read or write: an ``InputError`` naming ``what`` if a file is in the way."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what}: {path} is a file; expected a folder (or nothing there yet)")
    if path.is_symlink() and not path.exists():
        raise InputError(f"{what}: {path} is a link to nothing ({os.readlink(path)}): give a folder, or remove the "
                         "link")
    return path


class DerivedLabel(str):
    """A source's label that no ``--label`` gave (a file's stem): ``origin`` says where it was taken from, so that
    ``check_label`` names that instead of an option the user never wrote."""

    origin: str = ""


def derived_label(text: str, origin: str) -> DerivedLabel:
    """``text`` as a label taken from ``origin`` (e.g. "the file name of --input x.h5")."""
    label = DerivedLabel(text)
    label.origin = origin
    return label


def check_label(label: str, what: str = "--label") -> str:
    """``label`` if it is a name (it becomes one folder under an output folder): an ``InputError`` naming ``what``
    (or, for a ``DerivedLabel``, where it was taken from) when it is empty, ``.`` or ``..``, or holds a path
    separator or a control character."""
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if (not isinstance(label, str) or not label.strip() or label in (".", "..") or any(c in seps for c in label)
            or any(ord(c) < 32 for c in label)):
        if getattr(label, "origin", None):
            raise InputError(f"the label {str(label)!r}, taken from {label.origin} since no --label was given, is "
                             "not a name that can be one folder under the output folder (it may not be empty, '.' "
                             "or '..', or hold '/', '\\' or a control character such as a newline): give --label "
                             "NAME (letters, digits, '-', '_', '.')")
        raise InputError(f"{what} must be a name, one folder under the output folder (letters, digits, '-', '_', "
                         f"'.'); got {label!r}: it may not be empty, '.' or '..', or hold '/' or '\\'")
    return label


def fit_dir(label: str, model_dir: str | Path | None = None, out: str | Path = OUTPUTS) -> Path:
    """A fit's folder: ``model_dir`` if given, else ``<out>/<label>``."""
    if model_dir is not None:
        return folder(model_dir, "--model-dir")
    return folder(folder(out, "--out") / check_label(label), "--out")


def predict_dir(label: str, out: str | Path | None = None) -> Path:
    """A prediction's folder: ``out`` if given, else ``predict/<label>``."""
    return folder(out, "--out") if out is not None else folder(PREDICT / check_label(label), "the prediction folder")


def recon_dir(label: str, recon: str | Path | None = None, option: str = "--out") -> Path:
    """A decode's folder: ``recon`` (given as ``option``) if given, else ``recon/<label>``."""
    return folder(recon, option) if recon is not None else folder(RECON / check_label(label), "the decode folder")


def eval_dir(label: str, out: str | Path | None = None) -> Path:
    """An evaluation's folder: ``out`` if given, else ``eval/<label>``."""
    return folder(out, "--out") if out is not None else folder(EVAL / check_label(label), "the evaluation folder")


# ------------------------------------------------------------------------------------------ is a step done?
IDENTITY_KEYS = ("kind", "label")  # with "images" where both sides know them (Source.identity())


def identity_differences(recorded: dict | None, mine: dict) -> list[str]:
    """What differs between the identity an output recorded of its source and ``mine``: [] when they agree."""
    recorded = recorded or {}
    differ = [k for k in IDENTITY_KEYS if recorded.get(k) != mine.get(k)]
    if recorded.get("images") and mine.get("images") and recorded["images"] != mine["images"]:
        differ.append("images")
    return differ


def read_json(path: Path) -> dict | None:
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def load_json(path: Path, redo: str) -> dict:
    """A result's JSON file; a ``DataFormatError`` naming it and ``redo`` (the step that writes it again) when it is
    not valid JSON (damaged, cut short, or edited by hand)."""
    try:
        return json.loads(Path(path).read_text())
    except ValueError as exc:
        raise DataFormatError(f"{path} is not valid JSON ({exc}): it is damaged or was edited; {redo}") from None


def fit_done(folder, identity: dict, families) -> bool:
    """A complete fit of the source ``identity`` into exactly the feature families ``families`` is in ``folder``."""
    summary = read_json(Path(folder) / SUMMARY)
    return bool(summary) and not identity_differences((summary.get("source") or {}).get("identity"), identity) \
        and sorted(summary.get("groups", {})) == sorted(families)


def decode_done(folder, identity: dict, ids=None) -> bool:
    """``folder`` holds a decode of the source ``identity``: its config and grid, and the images of ``ids``."""
    config = read_json(Path(folder) / DECODE_CONFIG)
    if not config or identity_differences(config.get("source"), identity) or not (Path(folder) / GRID).exists():
        return False
    return ids is None or all((Path(folder) / recon_name(i)).exists() for i in ids)


def evaluate_done(folder, identity: dict) -> bool:
    """``folder`` holds a complete evaluation of the source ``identity``."""
    metrics = read_json(Path(folder) / METRICS_JSON)
    return bool(metrics) and not identity_differences((metrics.get("source") or {}).get("identity"), identity)


# ------------------------------------------------------------------------------------------ reconstructions
def recon_name(image_id: int, sample: int = 0) -> str:
    """``<73k id>.png`` for the first sample, ``<id>_<k>.png`` for sample k > 0 (ids zero-padded to 5 digits)."""
    return f"{int(image_id):05d}.png" if sample == 0 else f"{int(image_id):05d}_{sample}.png"


def save_png(image: np.ndarray, path) -> Path:
    """Write a uint8 (H, W, 3) image as PNG, atomically."""
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return Path(path)


def load_png(path) -> np.ndarray:
    """A PNG as uint8 (H, W, 3) RGB."""
    return np.asarray(Image.open(path).convert("RGB"))


def read_reconstructions(folder, ids, partial: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(ids present, uint8 images (n, H, W, 3)) of the first sample of each of ``ids`` in ``folder``.

    Without ``partial``, a missing reconstruction is a DataFileError that names how many and which.
    """
    folder = Path(folder)
    ids = np.asarray(ids)
    present = np.array([(folder / recon_name(i)).exists() for i in ids], dtype=bool)
    if not present.all() and not partial:
        missing = ids[~present]
        raise DataFileError(f"{folder} lacks reconstructions of {len(missing)} test images (ids "
                            f"{missing[:10].tolist()}{' ...' if len(missing) > 10 else ''}); decode them with "
                            "scripts/decode.py, or pass --partial")
    ids = ids[present]
    if not len(ids):
        raise DataFileError(f"{folder} holds no reconstruction of these test images")
    return ids, np.stack([load_png(folder / recon_name(i)) for i in ids])
