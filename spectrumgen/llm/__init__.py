"""LLM backends behind one seam (`backend_for`, `call_batch`)."""

from spectrumgen.llm.backends import (
    BACKENDS,
    Backend,
    BackendChoice,
    ModelReply,
    backend_for,
    call_batch,
    choose_backend,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendChoice",
    "ModelReply",
    "backend_for",
    "call_batch",
    "choose_backend",
]
