"""The ridge engine's chunk loop: the plan of chunks; ``run`` is the overlapped runner
(``ridge_decode.runtime.overlap``): chunk k+1 is read and chunk k-1 written while chunk k computes."""

from __future__ import annotations

from dataclasses import dataclass

from ..runtime.overlap import LoopTimes, run

__all__ = ["Chunk", "LoopTimes", "plan", "run"]


@dataclass(frozen=True)
class Chunk:
    """One step of the plan: targets ``[start, stop)`` of ``group`` in pass ``stage`` ("score" or "solve"), the
    ``k``-th chunk of that group."""

    group: str
    stage: str
    k: int
    start: int
    stop: int


def plan(widths: dict[str, int], chunk_size: int, passes=("solve",)) -> list[Chunk]:
    """Every (group, pass, chunk) of a fit, in order, for groups of ``widths`` flattened targets."""
    return [Chunk(g, stage, k, a, min(a + chunk_size, t)) for g, t in widths.items() for stage in passes
            for k, a in enumerate(range(0, t, chunk_size))]
