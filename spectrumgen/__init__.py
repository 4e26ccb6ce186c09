"""spectrumgen: generate LLM training data that covers its parameter space on purpose."""

from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext

__all__ = ["RunContext", "build_graph"]
