"""Target features of the stimuli, computed once per image and cached by 73k id for every subject."""

from .registry import REGISTRY, FeatureFamily
from .store import FeatureStore

__all__ = ["REGISTRY", "FeatureFamily", "FeatureStore"]
