"""Target features of the stimuli, computed once per image and cached by 73k id for every subject."""

from .cache import FeatureStore
from .registry import REGISTRY, FeatureFamily

__all__ = ["REGISTRY", "FeatureFamily", "FeatureStore"]
