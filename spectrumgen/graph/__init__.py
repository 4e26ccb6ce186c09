"""The generation graph: `build_graph()` uncompiled, `graph` compiled for `langgraph dev`.

`graph` is what the server serves: a caller's context may set run parameters only
(`spectrumgen.graph.served`). Python callers are the operator: `build_graph().compile()` takes
a whole `RunContext`.
"""

from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.graph.served import ServedContext, served_graph

graph = served_graph()

__all__ = ["RunContext", "ServedContext", "build_graph", "graph"]
