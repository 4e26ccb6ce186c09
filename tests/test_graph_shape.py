"""What embedding callers and `langgraph dev` rely on: an uncompiled builder, a compiled graph
without a checkpointer, and a drawn graph that shows every node and route."""

from __future__ import annotations

import json
from pathlib import Path

from langgraph.graph import StateGraph

import spectrumgen
from spectrumgen.graph import graph

NODES = {
    "plan_gaps",
    "compose",
    "generate",
    "parse",
    "validate",
    "judge",
    "review",
    "repair",
    "record",
    "finish",
}


def test_build_graph_is_uncompiled_and_the_served_graph_has_no_checkpointer() -> None:
    assert isinstance(spectrumgen.build_graph(), StateGraph)
    assert graph.checkpointer is None


def test_the_drawn_graph_shows_every_node_and_route() -> None:
    drawn = graph.get_graph()
    assert set(drawn.nodes) >= NODES
    edges = {(e.source, e.target) for e in drawn.edges}
    for route in [
        ("__start__", "plan_gaps"),
        ("plan_gaps", "compose"),
        ("plan_gaps", "finish"),
        ("compose", "generate"),
        ("generate", "parse"),
        ("validate", "judge"),
        ("judge", "review"),
        ("review", "repair"),
        ("record", "plan_gaps"),
        ("record", "finish"),
        ("finish", "__end__"),
    ]:
        assert route in edges, route


def test_langgraph_json_names_the_compiled_graph() -> None:
    config = json.loads((Path(__file__).parents[1] / "langgraph.json").read_text())
    path, _, attribute = config["graphs"]["spectrumgen"].partition(":")
    assert attribute == "graph"
    assert (Path(__file__).parents[1] / path).resolve() == Path(
        spectrumgen.graph.__file__
    ).resolve()
