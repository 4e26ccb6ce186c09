"""The generation graph: `build_graph()` uncompiled, `graph` compiled for `langgraph dev`."""

from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext

graph = build_graph().compile()

__all__ = ["RunContext", "build_graph", "graph"]
