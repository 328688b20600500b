"""ridge_decode: ridge-regression decoding of seen images from fMRI (NSD), with a thin diffusion step.

The package reads as the pipeline: ``manifest`` and ``nsd`` (data), ``simulate`` (a synthetic subject in the
NSD layout), ``features`` (targets cached by 73k id), ``ridge`` (the estimator), ``decode`` (predicted
targets to images), ``metrics`` (scores) and ``plots``. ``cli`` wires the stages together for the scripts.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # ``ridge_decode.RidgeGCV`` without importing the estimator (and himalaya) for every command
    if name == "RidgeGCV":
        from .ridge import RidgeGCV

        return RidgeGCV
    raise AttributeError(f"module 'ridge_decode' has no attribute {name!r}")
