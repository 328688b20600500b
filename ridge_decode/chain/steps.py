"""The NSD chain, described once: its steps, each step's command line, what it waits for, and when it is done.

``reproduce`` (one machine, ``recipe``) and ``slurm`` (dependent job arrays) are two executors of this one
description: a renamed option or a new step is one edit here, and ``tests/chain/test_chain.py`` parses every step's
command line with the real click command.

| step | array over | after | done when (``layout`` and the feature store, by provenance) |
|---|---|---|---|
| ``fetch-weights`` (with ``fetch``) | - | - | every weight the families, decoder and metrics load is present |
| ``fetch-sNN``, ``check-sNN`` (with ``fetch``, ``check``) | - | - | the files are present; a check always runs |
| ``extract`` | shards of the sorted image ids (none with 1 shard) | the checks | every family cached (or its shard) |
| ``merge`` (with more than 1 shard) | - | extract | every family cached, from the root's images |
| ``fit`` | subjects | merge (or extract) | ``layout.fit_done``: of that subject, into those families |
| ``decode-sNN`` | shards of the subject's test images (none with 1) | fit | ``layout.decode_done`` for its images |
| ``evaluate-sNN`` | - | decode-sNN | ``layout.evaluate_done`` |
| ``aggregate`` | - | every evaluate | its ``metrics.json`` exists |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..decode import DECODERS
from ..errors import DataError, InputError
from ..evaluation.image_metrics import networks
from ..features import REGISTRY, FeatureStore
from ..features.extract import shard_ids
from ..pipeline.check import check_data, check_weights
from ..pipeline.common import renamed
from ..results import Predictions
from ..runtime import layout
from ..sources import NSDSource
from ..sources.manifest import resolve_weights_root
from ..sources.nsd import viewed_ids


@dataclass
class ChainRequest:
    """What the chain runs: the data root, the subjects, the feature families extracted (``families``) and fitted
    (``fit_families``, often the same; extraction may add families only mapped or compared), the decoder, the
    device, the output folders, how finely extraction and decoding are split, and whether the data is fetched
    first."""

    data_root: str | Path = "data/synthetic"
    subjects: list[int] = field(default_factory=lambda: [1, 2])
    families: list[str] = field(default_factory=lambda: ["pixels"])
    fit_families: list[str] = field(default_factory=lambda: ["pixels"])
    extract_shards: int = 1
    decode_shards: int = 1
    decoder: str = "weight-free"
    device: str = "cpu"
    dtype: str | None = None  # extraction's stored dtype (None: the command's default)
    weights_root: str | Path | None = None
    features_dir: str | Path | None = None
    out: str | Path = layout.OUTPUTS
    recon: str | Path = layout.RECON
    evaluation: str | Path = layout.EVAL
    fetch: bool = False
    check: bool = False
    decode_args: tuple = ()
    targets: list[str] | None = None  # deprecated since 0.2.0: fit_families

    def __post_init__(self):
        renamed(self, type(self).__name__, {"targets": "fit_families"})


@dataclass
class Step:
    """One command of the chain: ``args`` (``{task}`` is the array index), its array, the steps it waits for, its
    kind (``step``: extract, merge, fit, decode, evaluate, aggregate, fetch, check), and ``done(task)``."""

    name: str
    args: list[str]
    array: list[int] | None = None
    after: list[str] = field(default_factory=list)
    step: str = ""
    done: Callable | None = None

    def argv(self, task=None) -> list[str]:
        """The command line of one task."""
        return [a.replace("{task}", str(task)) for a in self.args]

    def tasks(self) -> list:
        """The array's tasks, or [None] for a single command."""
        return list(self.array) if self.array else [None]

    def tasks_done(self) -> list:
        """The tasks whose outputs are complete."""
        return [t for t in self.tasks() if self.done is not None and self.done(t)]


def nsd_chain(req: ChainRequest) -> list[Step]:
    """The chain's steps for ``req``, in an order that respects every dependency."""
    if req.extract_shards < 1 or req.decode_shards < 1:
        raise InputError("--extract-shards and --decode-shards must be at least 1")
    root = str(req.data_root)
    nsd = NSDSource(req.data_root, None)
    feats = str(layout.features_dir(req.features_dir, nsd.default_features_dir()))
    store = FeatureStore(feats, provenance=nsd.provenance())
    weights = ["--weights-root", str(req.weights_root)] if req.weights_root else []
    common = ["--data-root", root, *weights]
    who = _identities(req.data_root, req.subjects)
    steps = _fetch_steps(req, root)
    checks = [s.name for s in steps if s.step == "check"]
    steps += _extract_steps(req, common, feats, store, checks)
    out, recon, ev = Path(req.out), Path(req.recon), Path(req.evaluation)
    steps.append(Step("fit", ["fit", "--subject", "{task}", "--data-root", root, "--families",
                              ",".join(req.fit_families), "--features-dir", feats, "--out", str(out)],
                      list(req.subjects), after=[steps[-1].name], step="fit",
                      done=lambda s: layout.fit_done(layout.subject_dir(out, s), who(s), req.fit_families)))
    evals = []
    for s in req.subjects:
        fit_dir, rec, e = layout.subject_dir(out, s), layout.subject_dir(recon, s), layout.subject_dir(ev, s)
        m = req.decode_shards
        steps.append(Step(f"decode-s{s:02d}", ["decode", "--subject", str(s), *common, "--model-dir", str(fit_dir),
                                               "--features-dir", feats, "--decoder", req.decoder, "--device",
                                               req.device, *(["--shard", f"{{task}}/{m}"] if m > 1 else []),
                                               "--out", str(rec), *req.decode_args],
                          list(range(m)) if m > 1 else None, after=["fit"], step="decode",
                          done=lambda t, fit_dir=fit_dir, rec=rec, s=s, m=m: _decoded(fit_dir, rec, t, m, who(s))))
        steps.append(Step(f"evaluate-s{s:02d}", ["evaluate", "--subject", str(s), *common, "--recon-dir", str(rec),
                                                 "--model-dir", str(fit_dir), "--features-dir", feats, "--out",
                                                 str(e)],
                          after=[f"decode-s{s:02d}"], step="evaluate",
                          done=lambda t, e=e, s=s: layout.evaluate_done(e, who(s))))
        evals.append(str(e))
    steps.append(Step("aggregate", ["evaluate", "--aggregate", *evals, "--out", str(ev / "mean")],
                      after=[f"evaluate-s{s:02d}" for s in req.subjects], step="aggregate",
                      done=lambda t: (ev / "mean" / layout.METRICS_JSON).exists()))
    return steps


def weights_needed(families, decoder: str | None, metrics: bool = True) -> list[str]:
    """Manifest keys of the weights that the feature ``families``, the ``decoder`` and, with ``metrics``, the
    evaluation networks load, each once."""
    unknown = [n for n in families if n not in REGISTRY]
    if unknown:
        raise InputError(f"--families: unknown families {unknown}; known: {', '.join(REGISTRY)}")
    keys = [k for n in families for k in REGISTRY[n].weights]
    keys += list(DECODERS[decoder].weights) if decoder else []
    if metrics:
        keys += [net.key for net in networks()]
    return list(dict.fromkeys(keys))


def _fetch_steps(req: ChainRequest, root: str) -> list[Step]:
    steps = []
    if req.fetch:
        wroot = resolve_weights_root(req.weights_root, req.data_root)
        keys = set(weights_needed(req.families, req.decoder))
        steps.append(Step("fetch-weights", ["fetch-weights", "--weights-root", str(wroot), "--families",
                                            ",".join(req.families), "--decoder", req.decoder], step="fetch",
                          done=lambda t: all(r.status == "present" for r in check_weights(wroot, keys=keys))))
    for s in req.subjects:
        if req.fetch:
            steps.append(Step(f"fetch-s{s:02d}", ["fetch-nsd", "--subject", str(s), "--dest", root], step="fetch",
                              done=lambda t, s=s: all(r.status == "present" for r in check_data(Path(root), (s,)))))
        if req.check:
            steps.append(Step(f"check-s{s:02d}", ["check-data", "--data-root", root, "--subject", str(s)],
                              after=[f"fetch-s{s:02d}"] if req.fetch else [], step="check", done=lambda t: False))
    return steps


def _extract_steps(req: ChainRequest, common: list, feats: str, store, checks: list) -> list[Step]:
    """The extraction (one command, or an array of shards and their merge)."""
    n = req.extract_shards
    args = ["extract-features", "--families", ",".join(req.families), *common, "--features-dir", feats,
            "--subjects", ",".join(map(str, req.subjects)), "--device", req.device,
            *(["--dtype", req.dtype] if req.dtype else [])]
    wanted = {}

    def merged(t=None) -> bool:  # done when every family holds the images of these subjects (not only others')
        if "ids" not in wanted:
            try:
                wanted["ids"] = viewed_ids(req.data_root, req.subjects)
            except (DataError, OSError):  # the design is not there yet (a fetch step comes first): not done
                return False
        return all(store.complete(f, wanted["ids"]) for f in req.families)

    if n == 1:
        return [Step("extract", args, after=checks, step="extract", done=merged)]
    return [
        Step("extract", [*args, "--shard", f"{{task}}/{n}"], list(range(n)), after=checks, step="extract",
             done=lambda t: merged() or all(store.shard_path(f, (t, n)).exists() for f in req.families)),
        Step("merge", ["extract-features", "--families", ",".join(req.families), "--merge", *common,
                       "--features-dir", feats], after=["extract"], step="merge", done=merged),
    ]


def _identities(root, subjects) -> Callable[[int], dict]:
    """Each subject's source identity, computed when first asked (it reads the stimulus file's header)."""
    cache: dict[int, dict] = {}

    def get(s: int) -> dict:
        if s not in cache:
            cache[s] = NSDSource(root, s).identity()
        return cache[s]

    return get


def _decoded(fit_dir: Path, recon: Path, task, shards: int, identity: dict) -> bool:
    """Decoding shard ``task`` of ``shards`` (all with None) is complete, from the subject's own predictions."""
    if not (fit_dir / layout.PREDICTIONS).exists():
        return False
    pred = Predictions.load(fit_dir, arrays=False)
    if layout.identity_differences(pred.source, identity):
        return False
    ids = pred.ids if task is None else shard_ids(pred.ids, (task, shards))
    config = layout.read_json(recon / layout.DECODE_CONFIG)
    if config is not None and layout.identity_differences(config.get("source"), identity):
        return False
    return all((recon / layout.recon_name(i)).exists() for i in ids)


READ_ONLY = ("check",)  # steps that write nothing: running them again redoes nothing after them


def in_order(steps: list[Step]) -> list[tuple[Step, object]]:
    """Every (step, task) to run, skipping the complete ones, in the chain's order; a step is redone (every task)
    when a step it waits for is redone. What ``reproduce`` runs, and what ``slurm`` submits."""
    redo: set[str] = set()
    todo = []
    for step in steps:
        forced = any(a in redo for a in step.after)
        done = [] if forced else step.tasks_done()
        tasks = [t for t in step.tasks() if t not in done]
        if tasks and step.step not in READ_ONLY:
            redo.add(step.name)
        todo += [(step, t) for t in tasks]
    return todo
