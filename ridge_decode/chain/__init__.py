"""The NSD chain: its steps described once (``steps``), run on one machine (``local``) or on SLURM (``cluster``)."""

from .steps import READ_ONLY, ChainRequest, Step, in_order, nsd_chain, weights_needed

__all__ = ["READ_ONLY", "ChainRequest", "Step", "in_order", "nsd_chain", "weights_needed"]
