"""What every stage shares: a stage timer, the group-list parser, and summaries built from a request."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

# request fields that are how a run talks, not what it computes: never recorded in a summary
NOT_RECORDED = ("source", "echo", "progress", "sampler", "reference", "subject")


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


def parse_groups(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``."""
    return [t.strip() for t in text.split(",") if t.strip()]


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
