"""The stages wired together: each job of the command line is one function that takes one request.

One module per stage: ``extract``, ``fit``, ``predict``, ``decode``, ``evaluate``, ``transfer`` and ``demo``. Each
request carries a :class:`ridge_decode.sources.Source`: a stage asks it for betas, images, captions, the feature
folder and the label, and never which kind of data it is. The commands only parse options, open the source, call
one of these and print. Every path comes from :mod:`ridge_decode.runtime.layout`; every error a user can fix is a
:class:`ridge_decode.errors.RidgeDecodeError`. ``echo`` in a request is where progress lines go.
"""

from .common import Timer, parse_families, parse_groups, request_config
from .decode import DecodeRequest, DecodeResult, decode_subject
from .demo import DemoRequest, run_demo
from .evaluate import (
                       EvaluateRequest,
                       EvaluateResult,
                       aggregate_evaluations,
                       embedding_scores,
                       evaluate_subject,
                       fit_embedding_scores,
)
from .extract import ExtractRequest, extract_features, merge_feature_shards, run_extract, select_ids
from .fit import FitRequest, FitResult, fit_subject, format_fit_summary
from .predict import PredictRequest, PredictResult, predict_subject
from .transfer import TRANSFER_METHODS, TransferRequest, TransferResult, reference_source, run_transfer

__all__ = ["TRANSFER_METHODS", "DecodeRequest", "DecodeResult", "DemoRequest", "EvaluateRequest", "EvaluateResult",
           "ExtractRequest", "FitRequest", "FitResult", "PredictRequest", "PredictResult", "Timer", "TransferRequest",
           "TransferResult", "aggregate_evaluations", "decode_subject", "embedding_scores", "evaluate_subject",
           "extract_features", "fit_embedding_scores", "fit_subject", "format_fit_summary", "merge_feature_shards",
           "parse_families", "parse_groups", "predict_subject", "reference_source", "request_config", "run_demo",
           "run_extract", "run_transfer", "select_ids"]
