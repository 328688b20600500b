"""The transfer stage: a new subject's output layer on a reference's frozen shared space, against two scratch ridges."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import plots
from ..errors import DataError, DataFileError, ForeignFolderError, InputError
from ..evaluation import image_metrics as ev
from ..evaluation import metrics
from ..ridge import OneStageRidge, resolve_alphas
from ..ridge.shared_space import PrincipalRidge, SharedSpace, TransferRidge
from ..runtime import layout
from ..runtime.io import versions, write_json
from ..sources import Source, reopen
from ..sources.base import MIN_TRAIN_IMAGES
from .common import TupleResult, feature_store, renamed
from .fit import FitRequest, fit_subject

# transfer: the new subject's layer in the reference's space; scratch: the package's per-target ridge on the new
# subject alone; scratch_principal: the new subject alone, a ridge into every principal direction of its own targets
# with alpha per direction, the same kind of model as transfer, so that transfer - scratch_principal is what the
# reference brings and scratch_principal - scratch what choosing alpha per direction of target space brings.
TRANSFER_METHODS = ("transfer", "scratch", "scratch_principal")


@dataclass
class TransferRequest:
    """A new subject's output layer on a reference's frozen shared space, against scratch (see ``transfer --help``).

    ``reference`` and ``subject`` are sources of the same images' features (the feature cache of ``subject``'s
    source, or ``features_dir``)."""

    reference: Source
    subject: Source
    families: list[str] = field(default_factory=lambda: ["pixels"])
    features_dir: str | Path | None = None
    reference_dir: str | Path | None = None
    fractions: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.25, 0.5, 1.0])
    rank: int = 64
    alphas: np.ndarray | None = None
    seed: int = 0
    out: str | Path = layout.OUTPUTS
    json_path: str | Path | None = None
    echo: Callable[[str], None] = print
    targets: list[str] | None = None  # deprecated since 0.2.0: families

    def __post_init__(self):
        renamed(self, "TransferRequest", {"targets": "families"})


def reference_source(reference_dir, default: Source) -> Source:
    """The source a reference fit in ``reference_dir`` recorded (any kind), else ``default``."""

    summary = Path(reference_dir) / layout.SUMMARY if reference_dir else None
    if summary is not None and summary.exists():
        recorded = layout.load_json(summary, "fit the reference again").get("source")
        if recorded:
            return reopen(recorded, where=str(summary))
    return default


@dataclass
class TransferResult(TupleResult):
    """What a transfer wrote: the JSON of the curves (``payload`` is its content) and their figure."""

    json_path: Path
    figure: Path
    payload: dict
    _tuple = ("json_path", "figure")


def run_transfer(req: TransferRequest) -> TransferResult:
    """Fit the reference if needed, freeze its shared space, fit the new subject at each training fraction with
    each of ``TRANSFER_METHODS``."""
    if importlib.util.find_spec("torch"):  # the eigensolver imports it: let no timed fit pay for that
        import torch  # noqa: F401

    name = f"transfer_{req.subject.label}_from_{req.reference.label}.json"
    json_path = Path(req.json_path or Path(req.out) / name)
    _ours_or_absent(json_path)
    _check_fractions(req)
    grid = resolve_alphas(req.alphas)
    store = feature_store(req.features_dir, req.subject)
    ref_dir, ref_model, ref_seconds = _reference_model(req, grid)
    t0 = time.perf_counter()
    shared = SharedSpace.from_reference(ref_model, req.reference.data(progress=False).train_betas, rank=req.rank,
                                        groups=list(req.families), seed=req.seed,
                                        info={"reference": req.reference.label})
    shared_seconds = time.perf_counter() - t0
    results = _curves(req, shared, store, grid)
    summary = _read_json(ref_dir / layout.SUMMARY)
    payload = {"kind": "transfer", "results": results,
               "reference": {"label": req.reference.label, "source": req.reference.describe(),
                             "model": str(ref_dir / layout.MODEL), "load_or_fit_seconds": ref_seconds,
                             "shared_space_seconds": shared_seconds,
                             "fit_seconds": summary["seconds"].get("fit") if summary else None,
                             "run_id": summary.get("run_id") if summary else None, **shared.info_},
               "subject": req.subject.describe(),
               "config": {"families": list(req.families), "fractions": req.fractions, "rank": req.rank,
                          "alphas": list(map(float, grid)), "seed": req.seed},
               "versions": versions()}
    write_json(json_path, payload)
    fig = json_path.with_suffix(".png")
    plots.plot_transfer(results, fig,
                          title=f"{req.subject.label} from reference {req.reference.label} (rank {req.rank})")
    return TransferResult(json_path, fig, payload)


def _ours_or_absent(json_path: Path) -> None:
    """Stop before any work when ``json_path`` (or its figure) exists and is not a transfer's result (a lab's
    file, another command's output): a transfer replaces only its own earlier result."""
    fig = json_path.with_suffix(".png")
    for path in (json_path, fig):
        if path.is_dir():
            raise ForeignFolderError(f"--json {json_path}: {path} is a folder; give a file name")
    if not json_path.exists():
        if fig.exists():
            raise ForeignFolderError(f"{fig} exists without the transfer result {json_path} it would be the figure "
                                     "of: it is left untouched; give another --json or --out")
        return
    recorded = layout.read_json(json_path)
    if not (isinstance(recorded, dict) and "results" in recorded and "reference" in recorded):
        raise ForeignFolderError(f"{json_path} exists and is not a transfer result of ridge_decode: it is left "
                                 "untouched; give another --json or --out")


def _read_json(path: Path) -> dict | None:
    return layout.load_json(path, "fit the reference again") if path.exists() else None


def _reference_model(req: TransferRequest, grid):
    """(the reference's fit folder, its model, seconds to load or fit it): fitted here if absent."""
    groups = list(req.families)
    ref_dir = layout.fit_dir(req.reference.label, req.reference_dir, req.out)
    t0 = time.perf_counter()
    if (ref_dir / layout.MODEL).exists():
        ref_model = OneStageRidge.load(ref_dir / layout.MODEL)
        missing = [g for g in groups if g not in ref_model.groups_]
        if missing:
            raise DataError(f"the reference model {ref_dir / layout.MODEL} has groups {ref_model.groups_}, not "
                            f"{missing}; refit it with --families {','.join(groups)} or pass another --reference-dir")
    else:
        try:
            fitted = fit_subject(FitRequest(req.reference, families=groups, features_dir=req.features_dir,
                                            out=ref_dir.parent, alphas=grid, echo=req.echo))
        except DataFileError as exc:
            if req.reference_dir is None:
                raise
            # a mistyped --reference-dir is not a request to fit the default reference: say so first
            raise DataFileError(f"--reference-dir {ref_dir} holds no fit ("
                                f"{'no such folder' if not ref_dir.exists() else 'no ' + layout.MODEL}): if it is "
                                "mistyped, give the folder of the reference's fit. Without a fit there, the "
                                f"reference {req.reference} is fitted there, and it cannot be: {exc}") from None
        ref_dir = fitted.folder
        ref_model = OneStageRidge.load(ref_dir / layout.MODEL)
    return ref_dir, ref_model, time.perf_counter() - t0


def _check_fractions(req: TransferRequest) -> None:
    """Every training fraction in (0, 1] and giving at least ``MIN_TRAIN_IMAGES`` images of the new subject, checked
    before any work."""
    if not req.fractions or any(not 0 < f <= 1 for f in req.fractions):
        raise InputError(f"--train-fraction takes fractions in (0, 1]; got {req.fractions}")
    n = len(req.subject.data(progress=False).train_ids)
    few = [f for f in req.fractions if _n_rows(f, n) < MIN_TRAIN_IMAGES]
    if few:
        raise InputError(f"--train-fraction {few[0]:g} gives {_n_rows(few[0], n)} of the {n} training images of "
                         f"{req.subject}; a fit needs at least {MIN_TRAIN_IMAGES}: use fractions of at least "
                         f"{MIN_TRAIN_IMAGES / n:.3g}")


def _n_rows(fraction: float, n: int) -> int:
    """The training images a fraction of ``n`` gives."""
    return int(round(fraction * n))


def _curves(req: TransferRequest, shared, store, grid) -> list[dict]:
    """Each method at each training fraction of the new subject: mean r, retrieval and seconds."""
    groups = list(req.families)
    new = req.subject.data(progress=False)
    y_test = {g: store.read(g, new.test_ids) for g in groups}
    order = np.random.default_rng(req.seed).permutation(len(new.train_ids))
    make = {"transfer": lambda: TransferRidge(shared, alphas=grid), "scratch": lambda: OneStageRidge(alphas=grid),
            "scratch_principal": lambda: PrincipalRidge(alphas=grid)}
    results = []
    for frac in req.fractions:
        rows = np.sort(order[: _n_rows(frac, len(order))])
        y_train = {g: store.read(g, new.train_ids[rows]) for g in groups}
        for method in TRANSFER_METHODS:
            t0 = time.perf_counter()
            model = make[method]().fit(new.train_betas[rows], y_train)
            seconds = time.perf_counter() - t0
            pred = model.predict(new.test_betas)
            per_group, all_r = {}, []
            for g in groups:
                r = metrics.columnwise_r(pred[g], y_test[g])
                per_group[g] = {"mean_r": float(np.nanmean(r)),
                                "retrieval_top1": ev.embedding_scores(pred[g], y_test[g])["retrieval_top1"]}
                all_r.append(r)
            results.append({"fraction": frac, "n_train": int(len(rows)), "method": method,
                            "mean_r": float(np.nanmean(np.concatenate(all_r))), "groups": per_group,
                            "seconds": seconds})
            req.echo(f"{method:<17} fraction {frac:<5} ({len(rows):>5} images): mean r {results[-1]['mean_r']:.3f}, "
                     f"{seconds:.2f} s")
    return results
