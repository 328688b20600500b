"""Evaluation: ``metrics`` (held-out r, PixCorr, two-way identification: plain functions, ``f(pred, true)``) and
``image_metrics`` (the eight standard NSD metrics with their feature networks), ``report`` (the published rows with
their papers, and the report beside them), ``maps`` (brain maps).
"""
