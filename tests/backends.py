"""himalaya backends the tests run on. GPU backends are skipped here, never in library code."""

import pytest


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


TORCH_BACKENDS = ["torch", pytest.param("torch_cuda", marks=pytest.mark.skipif(not _cuda_available(),
                                                                                reason="no CUDA device"))]
