"""LLM backends behind one seam (`backend_for`, `call_batch`)."""

from spectrumgen.llm.backends import BACKENDS, Backend, ModelReply, backend_for, call_batch

__all__ = ["BACKENDS", "Backend", "ModelReply", "backend_for", "call_batch"]
