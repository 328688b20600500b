"""One-stage kernel ridge: voxels -> every target group in one solve, alpha chosen per target by GCV.

``model`` holds the estimator (chunked, resumable, written to HDF5); ``solve`` the backend linear algebra;
``estimator`` the same engine as a scikit-learn regressor (``RidgeGCV``).
"""

from .estimator import RidgeGCV
from .model import DEFAULT_ALPHAS, DEFAULT_CHUNK_SIZE, OneStageRidge, rescale_to_train_statistics

__all__ = ["DEFAULT_ALPHAS", "DEFAULT_CHUNK_SIZE", "OneStageRidge", "RidgeGCV", "rescale_to_train_statistics"]
