"""The evaluate stage: the eight NSD metrics of a source's reconstructions against its seen images."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import plots
from ..errors import DataFileError, ForeignFolderError, InputError
from ..evaluation import image_metrics as ev
from ..evaluation import report
from ..results import Predictions
from ..runtime import layout
from ..runtime.io import atomic_path, versions, write_json
from ..runtime.machine import require_device
from ..runtime.runs import FolderLock, claim, commit, run_kind, staging
from ..sources import Source
from ..sources.manifest import resolve_weights_root
from .common import TupleResult, feature_store, leave_resumable, same_source


@dataclass
class EvaluateRequest:
    """Score one subject's reconstructions (see ``evaluate --help``)."""

    source: Source  # its test ids and images are the ground truth
    recon_dir: str | Path | None = None
    model_dir: str | Path | None = None
    features_dir: str | Path | None = None
    weights_root: str | Path | None = None
    out: str | Path | None = None
    convention: str = "mindeye"
    batch_size: int = 32
    rank_by: str = "pixcorr"
    partial: bool = False
    device: str = "cpu"
    progress: bool = True


@dataclass
class EvaluateResult(TupleResult):
    """What an evaluation wrote: ``metrics.json``'s content (``result["metrics"]`` holds the eight scores) and the
    folder."""

    result: dict
    folder: Path
    _tuple = ("result", "folder")


def evaluate_subject(req: EvaluateRequest) -> EvaluateResult:
    """The eight metrics of a subject's reconstructions: ``metrics.json``, ``per_image.json``, ``report.md`` and
    the best/median/worst figure."""

    label = req.source.label
    recon = layout.recon_dir(label, req.recon_dir, option="--recon-dir")
    out = layout.eval_dir(label, req.out)
    claim(out, "evaluate", "--out" if req.out is not None else "the evaluation folder")  # before the work
    decoded = _decoded(recon, req.recon_dir is not None)
    same_source(decoded.get("source"), req.source, "reconstructions", recon, redo="decode")
    images = req.source.images()  # no images, no ground truth: the source's error says what to give
    ids, recons = layout.read_reconstructions(recon, req.source.test_ids(), partial=req.partial)
    stimuli = images.read(ids)
    _not_the_truth(recon, recons, stimuli, images)
    scores, per_image = ev.image_metrics(recons, stimuli, resolve_weights_root(req.weights_root, req.source.root),
                                         convention=req.convention, batch_size=req.batch_size,
                                         progress=req.progress, device=require_device(req.device))
    result = {"label": label, "source": req.source.describe(), "n_images": int(len(ids)),
              "convention": req.convention, "recon_dir": str(recon), "ground_truth": str(images.path),
              "metrics": scores}
    if decoded:
        result["decoder"] = decoded.get("decoder_name")
    if req.model_dir:
        result["embedding"] = fit_embedding_scores(Path(req.model_dir), feature_store(req.features_dir, req.source),
                                                   ids, req.source)
    result["versions"] = versions()
    with FolderLock(out, kind="evaluate") as lock:
        result["run_id"] = lock.run_id
        try:
            names = _write_evaluation(req, staging(out), result, per_image, stimuli, recons, ids)
            commit(out, lock, names)
        except BaseException:
            leave_resumable(staging(out), print)
            raise
    return EvaluateResult(result, out)


def _decoded(recon: Path, given: bool) -> dict:
    """The ``config.json`` of the decode in ``recon``; a ``DataFileError`` when there is no such folder (a typo) or
    when it holds no decode of ridge_decode (no ``config.json``)."""
    from ..errors import DataFileError

    what = f"--recon-dir {recon}" if given else f"the decode folder {recon}"
    if not recon.is_dir():
        raise DataFileError(f"{what} does not exist: check the path, or decode first (python scripts/decode.py "
                            f"... --out {recon})")
    config = recon / layout.DECODE_CONFIG
    if not config.exists():
        kind = run_kind(recon)
        raise DataFileError(f"{what} holds no decode written by ridge_decode (it has no {layout.DECODE_CONFIG}"
                            f"{'; it holds ' + kind + ' run' if kind else ''}): give the folder decode wrote")
    return layout.load_json(config, "decode again into that folder")


def _not_the_truth(recon: Path, recons, stimuli, images) -> None:
    """Refuse to score the seen images against themselves: a reconstruction folder that is the images' own folder
    (``--images``), or whose every image equals its seen image pixel for pixel (a copy)."""
    from ..errors import DataError

    where = Path(images.path)
    if recon.resolve() == where.resolve() or (
            recons.shape == stimuli.shape and np.array_equal(recons, stimuli)):
        raise DataError(f"the reconstructions in {recon} are the seen images themselves ({where}): scoring the truth "
                        "against itself gives perfect scores. Give the folder that decode wrote (--recon-dir)")


def _write_evaluation(req: EvaluateRequest, staging: Path, result: dict, per_image: dict, stimuli, recons,
                      ids) -> list[str]:
    """``metrics.json``, ``per_image.json``, ``report.md`` and the ranked figure into ``staging``; their names."""
    scores = result["metrics"]
    write_json(staging / layout.METRICS_JSON, result)
    write_json(staging / layout.PER_IMAGE, {"ids": ids, **per_image})
    kind = result["source"]["data_kind"]
    name = (f"ridge_decode ({kind} {result['label']}, {result.get('decoder') or 'unknown decoder'}, "
            f"{len(ids)} images)")
    with atomic_path(staging / layout.REPORT) as tmp:
        tmp.write_text(report.report({name: scores}, f"Reconstruction metrics, {kind} {result['label']}",
                                 note=f"Resizing convention: {req.convention}.", not_nsd=_not_nsd(kind)))
    names = [layout.METRICS_JSON, layout.PER_IMAGE, layout.REPORT]
    if req.rank_by in per_image:
        plots.plot_ranked(recons, stimuli, ids, per_image[req.rank_by], req.rank_by,
                                     ev.REGISTRY[req.rank_by].higher_is_better, staging / layout.RANKED)
        names.insert(0, layout.RANKED)
    return names


def _not_nsd(kind: str) -> str | None:
    """What a report says its rows are when they are not NSD's (None for NSD)."""
    return None if kind == "NSD" else {"synthetic": "a synthetic subject"}.get(kind, kind)


def fit_embedding_scores(model_dir: Path, store, ids, source: Source | None = None) -> dict:
    """:func:`ridge_decode.evaluation.image_metrics.embedding_scores` of each family a fit in ``model_dir``
    predicted (its ``predictions.h5``, rows ``ids``) against the true features in ``store`` (a FeatureStore), by
    family; a family whose features ``store`` lacks gets ``{"unavailable": why}``."""
    pred = Predictions.load(model_dir)
    if source is not None:
        same_source(pred.source, source, "predictions", pred.path)
    rows = pred.rows(ids)
    out = {}
    for g, p in pred.pred.items():
        if not store.exists(g):
            out[g] = {"unavailable": f"{store.path(g)} is missing"}
            continue
        out[g] = ev.embedding_scores(p[rows], store.read(g, ids))
    return out


def aggregate_evaluations(dirs, out: str | Path | None = None) -> Path:
    """Average the ``metrics.json`` of ``dirs`` (one per subject) into ``<out>/metrics.json`` and ``report.md``.

    ``out`` is never one of ``dirs``, nor inside or around one; it is locked and committed as every run folder."""

    if not dirs:
        raise InputError("--aggregate needs the evaluation folders, e.g. eval/subj01 eval/subj02")
    out = layout.folder(out if out is not None else layout.EVAL / "mean", "--out")
    for d in dirs:
        a, b = Path(d).resolve(), out.resolve()
        if a == b or a in b.parents or b in a.parents:
            raise ForeignFolderError(f"--out {out} is {'one of' if a == b else 'nested with one of'} the folders "
                                     f"--aggregate averages ({d}): the mean goes into a folder of its own, e.g. "
                                     f"--out {layout.EVAL / 'mean'}")
    seen = {}
    for d in dirs:
        if Path(d).resolve() in seen:
            raise InputError(f"--aggregate names {d} twice (as {seen[Path(d).resolve()]}): each subject counts once")
        seen[Path(d).resolve()] = d
    claim(out, "aggregate")
    results = []
    for d in dirs:
        path = Path(d) / layout.METRICS_JSON
        if not path.exists():
            raise DataFileError(f"{path} is missing: run scripts/evaluate.py for that subject first")
        results.append(layout.load_json(path, "evaluate that subject again"))
    mean = report.aggregate(results)
    labels = [r.get("label") for r in results]
    kinds = sorted({(r.get("source") or {}).get("data_kind", "NSD") for r in results})
    not_nsd = ", ".join(filter(None, (_not_nsd(k) for k in kinds))) or None
    with FolderLock(out, kind="aggregate") as lock:
        stage = staging(out)
        try:
            stage.mkdir(parents=True, exist_ok=True)
            write_json(stage / layout.METRICS_JSON, {
                "aggregate_of": [str(d) for d in dirs], "labels": labels, "metrics": mean, "data_kinds": kinds,
                "run_ids": [r.get("run_id") for r in results], "run_id": lock.run_id, "versions": versions()})
            with atomic_path(stage / layout.REPORT) as tmp:
                tmp.write_text(report.report({f"ridge_decode ({'/'.join(kinds)}, mean of "
                                              f"{', '.join(map(str, labels))})": mean},
                                             "Reconstruction metrics, averaged over subjects", not_nsd=not_nsd))
            commit(out, lock, [layout.METRICS_JSON, layout.REPORT])
        except BaseException:
            leave_resumable(stage, print)
            raise
    return out




def embedding_scores(model_dir: Path, store, ids, source: Source | None = None) -> dict:
    """Deprecated since 0.2.0, removed in 0.3.0: :func:`fit_embedding_scores` (the one ``embedding_scores`` is
    :func:`ridge_decode.evaluation.image_metrics.embedding_scores`)."""
    warnings.warn("ridge_decode.pipeline.embedding_scores is deprecated since 0.2.0 and will be removed in 0.3.0: "
                  "use ridge_decode.pipeline.fit_embedding_scores", FutureWarning, stacklevel=2)
    return fit_embedding_scores(model_dir, store, ids, source)
