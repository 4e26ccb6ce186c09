"""What embedding callers and `langgraph dev` rely on: an uncompiled builder, a compiled graph
without a checkpointer, and a drawn graph that shows every node and route (the run's start and
finish, and the loop each lane runs between them)."""

from __future__ import annotations

import json
from pathlib import Path

from langgraph.graph import StateGraph

import spectrumgen
from spectrumgen.graph import graph

LANE_NODES = {
    "plan_gaps",
    "compose",
    "generate",
    "parse",
    "validate",
    "judge",
    "review",
    "repair",
    "record",
}


def test_build_graph_is_uncompiled_and_the_served_graph_has_no_checkpointer() -> None:
    assert isinstance(spectrumgen.build_graph(), StateGraph)
    assert graph.checkpointer is None


def test_the_drawn_graph_shows_every_node_and_route() -> None:
    drawn = graph.get_graph(xray=True)  # Studio draws the lanes' loop inside the run
    assert set(drawn.nodes) >= {"start", "finish"} | {f"lane:{n}" for n in LANE_NODES}
    edges = {(e.source, e.target) for e in drawn.edges}
    for route in [
        ("__start__", "start"),
        ("start", "lane:__start__"),
        ("lane:__start__", "lane:plan_gaps"),
        ("lane:plan_gaps", "lane:compose"),
        ("lane:plan_gaps", "lane:__end__"),
        ("lane:compose", "lane:generate"),
        ("lane:generate", "lane:parse"),
        ("lane:validate", "lane:judge"),
        ("lane:judge", "lane:review"),
        ("lane:review", "lane:repair"),
        ("lane:record", "lane:plan_gaps"),
        ("lane:record", "lane:__end__"),
        ("lane:__end__", "finish"),
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
