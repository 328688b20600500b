"""ridge_decode: ridge-regression decoding of seen images from fMRI (NSD), with a thin diffusion step.

The public names (``__all__``) run the whole chain from Python, in the pipeline's order:

- datasets: ``get_data_home`` (the one folder for written and downloaded data: ``$RIDGE_DECODE_DATA``, else
  ``~/ridge_decode_data``), ``fetch_synthetic`` (the synthetic subjects there, written once), ``fetch_macaque_v4``
  (real macaque V4 responses, downloaded once), ``fetch_kay2008`` (real fMRI of Kay et al. 2008, downloaded once);
- data: ``simulate`` (a synthetic subject in NSD's file layout), ``read_design`` and ``subject_trials`` (NSD's
  experiment design: which image each trial showed), ``NSDSource``, ``HDF5Source``, ``NiftiSource``
  (``source.load()`` gives a ``SubjectData``: betas and image ids; ``source.images().read(ids)`` the images);
- features: ``extract_features`` (cached per image id; returns a ``FeatureStore``, ``.read(family, ids)``);
- ridge: ``OneStageRidge`` and ``RidgeGCV`` (the same maths, ``ridge_decode.ridge.core``); ``SharedSpace`` and
  ``TransferRidge`` (a reference subject's frozen target space, reused for a new subject);
- decoding: ``decode_images`` ("weight-free" or "diffusion");
- evaluation: ``score_images`` (every metric available), ``columnwise_r``, ``pixcorr``, ``two_way_identification``,
  ``brain_maps`` (per-voxel maps as NIfTI in the subject's grid: where the decoded information lies);
- figures: ``plot_reconstructions``, ``plot_fit_summary``, ``plot_ranked``, ``plot_transfer`` (each returns a
  matplotlib Figure; ``path=`` also saves it).

Every score takes the prediction first and the truth second. The subpackages hold the rest: ``sources``,
``features``, ``ridge``, ``decode``, ``evaluate``, ``pipeline`` (the stages wired together for the commands) and
``cli``.
"""

import importlib

__version__ = "0.2.0"

# name -> module that defines it; imported on first use, so that `ridge-decode --help` does not import torch
_PUBLIC = {
    "simulate": "ridge_decode.simulation",
    "get_data_home": "ridge_decode.datasets",
    "fetch_synthetic": "ridge_decode.datasets",
    "fetch_macaque_v4": "ridge_decode.datasets",
    "fetch_kay2008": "ridge_decode.datasets",
    "read_design": "ridge_decode.sources.nsd_files",
    "subject_trials": "ridge_decode.sources.nsd_files",
    "NSDSource": "ridge_decode.sources",
    "HDF5Source": "ridge_decode.sources",
    "NiftiSource": "ridge_decode.sources",
    "SubjectData": "ridge_decode.sources",
    "extract_features": "ridge_decode.pipeline.extract",
    "FeatureStore": "ridge_decode.features",
    "OneStageRidge": "ridge_decode.ridge",
    "RidgeGCV": "ridge_decode.ridge",
    "AlphaGridWarning": "ridge_decode.ridge",
    "SharedSpace": "ridge_decode.ridge.shared_space",
    "TransferRidge": "ridge_decode.ridge.shared_space",
    "decode_images": "ridge_decode.decode",
    "score_images": "ridge_decode.evaluation.image_metrics",
    "columnwise_r": "ridge_decode.evaluation.metrics",
    "pixcorr": "ridge_decode.evaluation.metrics",
    "two_way_identification": "ridge_decode.evaluation.metrics",
    "brain_maps": "ridge_decode.pipeline.maps",
    "plot_reconstructions": "ridge_decode.plots",
    "plot_fit_summary": "ridge_decode.plots",
    "plot_ranked": "ridge_decode.plots",
    "plot_transfer": "ridge_decode.plots",
    "RidgeDecodeError": "ridge_decode.errors",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ridge_decode' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
