"""Predicted targets to images."""
