"""What every node needs from its runtime: the run's context, its spec, the ledger and a writer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime

from spectrumgen.graph.context import RunContext, context_from, with_overrides
from spectrumgen.ledger import Ledger, open_ledger
from spectrumgen.llm.routing import Routes, resolve_routes
from spectrumgen.schemas.spec import Spec
from spectrumgen.specs import load_spec


@dataclass(frozen=True)
class NodeParts:
    """The resolved pieces of a node's runtime."""

    context: RunContext
    spec: Spec
    ledger: Ledger
    emit: Callable[[dict[str, Any]], None]

    def worker(self, run_id: str, lane: int) -> str:
        """Who a lane is in the ledger: its claims and calls (this process's worker, or the run
        when it has none, and the lane)."""
        return f"{self.context.worker or run_id}/{lane}"

    @property
    def routes(self) -> Routes:
        """The run's model routing table."""
        return resolve_routes(self.spec, self.context.routing, self.context.model)


# The configurable key under which a lane hands its loop's nodes the run's event writer.
EVENTS_KEY = "__spectrumgen_events"


def events_writer() -> Callable[[Any], None] | None:
    """The writer a lane handed down for its loop's progress events (`EVENTS_KEY`), if any."""
    try:
        writer: Callable[[Any], None] | None = get_config().get("configurable", {}).get(EVENTS_KEY)
        return writer
    except RuntimeError:  # called outside a graph
        return None


def node_parts(runtime: Runtime[Any] | None, state: Mapping[str, Any] | None = None) -> NodeParts:
    """Resolve a runtime; a host graph's context (or none) falls back to spectrumgen's defaults.

    The run's input may name a `spec` and `overrides` of context fields; they win. The served
    graph's caller context (`spectrumgen.graph.served.ServedContext`) resolves itself: the
    server's settings, with only what a caller may choose.
    """
    given: Any = runtime.context if runtime is not None else None
    if hasattr(given, "run_context"):
        context = given.run_context(state)
    else:
        overrides = dict((state or {}).get("overrides") or {})
        if state and state.get("spec"):
            overrides["spec"] = state["spec"]
        context = with_overrides(context_from(given), overrides)
    writer = events_writer() or (runtime.stream_writer if runtime is not None else None)

    def emit(event: dict[str, Any]) -> None:
        if writer is not None:
            writer({"source": "spectrumgen", **event})

    return NodeParts(
        context=context, spec=load_spec(context.spec), ledger=open_ledger(context.db_url), emit=emit
    )
