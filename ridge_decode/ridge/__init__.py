"""One-stage kernel ridge: voxels -> every target group in one solve, alpha chosen per target by GCV.

``core`` is the method (plain functions of arrays: read it top to bottom); ``OneStageRidge`` (``model``) runs it
out of core, chunked and resumable into an HDF5 model; ``RidgeGCV`` (``estimator``) is the same maths as a
scikit-learn regressor. ``validation`` checks both estimators' parameters and inputs in one place.
"""

from .backend import BACKENDS, DEVICES
from .model import DEFAULT_CHUNK_SIZE, OneStageRidge, rescale_to_train_statistics
from .validation import DEFAULT_ALPHAS, AlphaGridWarning, resolve_alphas


def __getattr__(name):
    # ``RidgeGCV`` imports scikit-learn: only when asked for (the commands' option lists import this package)
    if name == "RidgeGCV":
        from .estimator import RidgeGCV

        return RidgeGCV
    raise AttributeError(f"module 'ridge_decode.ridge' has no attribute {name!r}")

__all__ = ["BACKENDS", "DEFAULT_ALPHAS", "DEFAULT_CHUNK_SIZE", "DEVICES", "AlphaGridWarning", "OneStageRidge",
           "RidgeGCV", "rescale_to_train_statistics", "resolve_alphas"]
