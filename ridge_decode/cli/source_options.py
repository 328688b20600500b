"""The command-line options of each kind of source (``sources.KINDS``): flag, help and type, keyed by kind.

A source declares only the names its ``from_options`` takes (``Source.OPTIONS``); how they are spelled and
explained on the command line lives here, beside the other option specs (``cli/_group.py`` adds them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceOption:
    """One command-line option of a kind of source: ``--<name>`` (underscores as dashes), with its help."""

    name: str
    help: str
    multiple: bool = False  # given several times (or as a glob)
    type: type = str  # str options are paths


SOURCE_OPTIONS: dict[str, tuple[SourceOption, ...]] = {
    "nsd": (
        SourceOption("data_root", "NSD (or synthetic) root; default $RIDGE_DECODE_DATA, else the manifest's "
                                  "data_root_default."),
        SourceOption("subject", "NSD subject number, 1..8 (default 1).", type=int),
        SourceOption("sessions", "First N sessions of the subject (default: all available).", type=int),
    ),
    "hdf5": (
        SourceOption("input", "Your own data: one HDF5 file of betas, ids and images (docs/data.md)."),
    ),
    "nifti": (
        SourceOption("betas", "NIfTI betas: 4-D files, one volume per trial (repeat the option, or give a glob).",
                     multiple=True),
        SourceOption("mask", "With --betas: the brain or ROI mask in the betas' grid (voxels > 0 are used)."),
        SourceOption("trials", "With --betas: a TSV, one row per volume: image, split (train/test), optional id "
                               "and session."),
        SourceOption("images", "With --betas: the folder of PNG or JPEG images the trials name."),
        SourceOption("ncsnr", "With --betas: a NIfTI of each voxel's noise-ceiling SNR, in the mask's grid."),
    ),
}
