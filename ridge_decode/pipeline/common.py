"""What every stage shares: a stage timer, the family-list parser, and summaries built from a request."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError, RidgeDecodeError
from ..features import FeatureStore
from ..runtime import layout
from ..runtime.machine import full_disk_error, io_error

# request fields that are how a run talks, not what it computes: never recorded in a summary
NOT_RECORDED = ("source", "echo", "progress", "sampler", "reference", "subject", "backend", "targets")


def renamed(req, request: str, names: dict) -> None:
    """Move each field of ``req`` given under a name before 0.2.0 (``names``: {old: new}, the old field's default
    None) to its new name, with a ``FutureWarning`` naming it; the old field is left None."""
    for old, new in names.items():
        value = getattr(req, old)
        if value is not None:
            warnings.warn(f"{request}({old}=...) is deprecated since 0.2.0 and will be removed in 0.3.0: use "
                          f"{request}({new}=...)", FutureWarning, stacklevel=4)
            setattr(req, new, value)
            setattr(req, old, None)


class TupleResult:
    """A stage's result dataclass that still unpacks as the tuple the stage returned before 0.2.0, with a
    ``FutureWarning`` (``summary, folder = predict_subject(...)``); ``_tuple`` names the fields it unpacked to."""

    _tuple: tuple[str, ...] = ()

    def __iter__(self):
        name = type(self).__name__
        warnings.warn(f"unpacking a {name} as a tuple is deprecated since 0.2.0 and will be removed in 0.3.0: use "
                      f"its attributes ({', '.join('.' + f for f in self._tuple)})", FutureWarning, stacklevel=2)
        return iter(tuple(getattr(self, f) for f in self._tuple))


class Timer:
    """Wall time of named stages, for a summary table: ``with timer("fit"): ...``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Stage:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[name] = timer.seconds.get(name, 0.0) + time.perf_counter() - self.t0

        return _Stage()


def parse_families(text: str, option: str = "--families") -> list[str]:
    """``"a,b"`` -> ``["a", "b"]`` (feature families); an empty list is an error naming ``option``."""
    from ..errors import InputError

    families = [t.strip() for t in text.split(",") if t.strip()]
    if not families:
        from ..features import REGISTRY

        raise InputError(f"{option} {text!r}: no name given; expected one or more comma-separated feature families "
                         f"(e.g. pixels; known: {','.join(sorted(REGISTRY))})")
    return families


def parse_groups(text: str, option: str = "--families") -> list[str]:
    """Deprecated since 0.2.0, removed in 0.3.0: :func:`parse_families`."""
    warnings.warn("ridge_decode.pipeline.parse_groups is deprecated since 0.2.0 and will be removed in 0.3.0: use "
                  "ridge_decode.pipeline.parse_families", FutureWarning, stacklevel=2)
    return parse_families(text, option)


def request_config(req, **resolved) -> dict:
    """A request's settings for its summary: every dataclass field but ``NOT_RECORDED``, as JSON-ready values,
    with ``resolved`` (defaults the stage chose, e.g. the alpha grid) in place of the request's None."""
    config = {}
    for f in dataclasses.fields(req):
        if f.name in NOT_RECORDED:
            continue
        value = getattr(req, f.name)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        elif value is not None and not isinstance(value, (bool, int, float, str, list, dict, tuple)):
            value = str(value)
        config[f.name] = value
    config.update(resolved)
    return config


def feature_store(features_dir, source):
    """The feature cache of a run: ``--features-dir`` or the source's default, checked against the source's images."""
    return FeatureStore(layout.features_dir(features_dir, source.default_features_dir()),
                        provenance=source.provenance())


def same_source(recorded: dict | None, source, what: str, path, redo: str = "fit") -> None:
    """Stop when an output made from one source (``recorded``: its ``identity()``) is read with another: the kind,
    the label and the images must agree (images only where both are known). An output that records no source
    (written by an earlier version) is refused: it cannot be checked. ``redo`` names the command that makes it."""
    if not recorded:
        raise DataError(f"{path} records no source (it was written by an earlier version of ridge_decode), so it "
                        f"cannot be checked against {source}: make it again, with python scripts/{redo}.py "
                        f"{source.options_text()} (into a new folder, or after deleting {path})")
    mine = source.identity()
    differ = layout.identity_differences(recorded, mine)
    if differ:
        raise DataError(f"{path} holds {what} of {recorded.get('text') or recorded.get('label')} "
                        f"({recorded.get('kind')}, label {recorded.get('label')}); this run reads {source} "
                        f"({mine['kind']}, label {mine['label']}): their {', '.join(differ)} differ. Give the data "
                        "options of that run, or another folder")


@contextlib.contextmanager
def writing(folder, option: str = "--out"):
    """Turn an operating-system error while writing into ``folder`` (a full disk, a read-only file system) into one
    line naming it; partial files stay where the resume protocol expects them."""
    try:
        yield
    except (OSError, RuntimeError) as exc:  # h5py reports a failed write as either
        if isinstance(exc, (RidgeDecodeError, FileNotFoundError)):
            raise
        error = (io_error(exc, folder, option) if isinstance(exc, OSError) else None) or full_disk_error(exc, folder)
        if error is None:
            raise
        raise error from exc


def leave_resumable(stage, echo) -> None:
    """After a failed run: remove its staging folder, unless it holds resumable files; then say how big they are."""
    stage = Path(stage)
    if not stage.exists():
        return
    parts = list(stage.glob("*.part"))
    if not parts:
        shutil.rmtree(stage, ignore_errors=True)
        return
    size = sum(p.stat().st_size for p in parts)
    echo(f"{size / 1e6:.1f} MB of partial files stay in {stage}: the same command resumes from them (delete the "
         "folder to start over)")
