"""One-stage kernel ridge: voxels -> every target group in one solve, alpha chosen per target by GCV.

``model`` holds the estimator (chunked, resumable, written to HDF5); ``solve`` the backend linear algebra;
``estimator`` the same engine as a scikit-learn regressor (``RidgeGCV``).
"""

from .device import BACKENDS
from .model import DEFAULT_ALPHAS, DEFAULT_CHUNK_SIZE, OneStageRidge, rescale_to_train_statistics, resolve_alphas


def __getattr__(name):
    # ``RidgeGCV`` imports scikit-learn: only when asked for (the commands' option lists import this package)
    if name == "RidgeGCV":
        from .estimator import RidgeGCV

        return RidgeGCV
    raise AttributeError(f"module 'ridge_decode.ridge' has no attribute {name!r}")

__all__ = ["BACKENDS", "DEFAULT_ALPHAS", "DEFAULT_CHUNK_SIZE", "OneStageRidge", "RidgeGCV",
           "rescale_to_train_statistics", "resolve_alphas"]
