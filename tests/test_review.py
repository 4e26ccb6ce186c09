"""Human in the loop: with `review` on, the graph pauses before recording each wave."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from spectrumgen.errors import BadInputError
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.ledger import open_ledger
from spectrumgen.nodes.review import REJECTED_BY_REVIEWER

EDITED = (
    "I can give you one hour tonight, Mara, and I will tell you honestly that it is all I have."
)


def test_a_reviewer_rejects_one_item_edits_another_and_approves_the_rest(
    scripted_context: RunContext,
) -> None:
    scripted_context.review = True
    graph = build_graph().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "review"}}
    result = graph.invoke({"target": 6}, config, context=scripted_context)
    [pause] = result["__interrupt__"]
    shown = [item["scenario_id"] for item in pause.value["items"]]
    [lane] = graph.get_state(config, subgraphs=True).tasks  # a run under review has one lane
    assert len(shown) == 6 and lane.state.next == ("review",)  # type: ignore[union-attr]
    rejected, edited = shown[0], shown[1]
    decision = {"reject": [rejected], "edit": {edited: {"response": EDITED}}}
    result = graph.invoke(Command(resume=decision), config, context=scripted_context)
    waves = 1
    while "__interrupt__" in result:  # the repaired item comes back for review
        waves += 1
        result = graph.invoke(Command(resume={"approve": "all"}), config, context=scripted_context)
    assert result["status"] == "complete" and waves == 2
    ledger = open_ledger(scripted_context.db_url)
    examples = {e["scenario_id"]: e for e in ledger.examples(result["run_id"])}
    assert examples[edited]["response"] == EDITED
    [rejection] = ledger.rejections(result["run_id"])
    assert rejection["scenario_id"] == rejected and rejection["reasons"] == [REJECTED_BY_REVIEWER]
    assert examples[rejected]["attempt"] == 2  # repaired, then approved


def test_an_edit_that_breaks_a_rule_is_rejected_with_the_rule(
    scripted_context: RunContext,
) -> None:
    scripted_context.review = True
    graph = build_graph().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "bad-edit"}}
    result = graph.invoke({"target": 5}, config, context=scripted_context)
    first = result["__interrupt__"][0].value["items"][0]["scenario_id"]
    result = graph.invoke(
        Command(resume={"edit": {first: {"support_provided": 11.0}}}),
        config,
        context=scripted_context,
    )
    while "__interrupt__" in result:
        result = graph.invoke(Command(resume={"approve": "all"}), config, context=scripted_context)
    [rejection] = open_ledger(scripted_context.db_url).rejections(result["run_id"])
    assert rejection["reasons"][0].startswith("support_provided 11 is outside")


def test_an_answer_naming_items_not_shown_is_refused(scripted_context: RunContext) -> None:
    scripted_context.review = True
    graph = build_graph().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "bad-answer"}}
    graph.invoke({"target": 5}, config, context=scripted_context)
    with pytest.raises(BadInputError, match="not shown: s99999"):
        graph.invoke(Command(resume={"reject": ["s99999"]}), config, context=scripted_context)


def test_progress_events_and_updates_stream_together(scripted_context: RunContext) -> None:
    graph = build_graph().compile()
    modes: dict[str, list[Any]] = {"updates": [], "custom": []}
    for mode, chunk in graph.stream(
        {"target": 10}, context=scripted_context, stream_mode=["updates", "custom"]
    ):
        modes[mode].append(chunk)
    kinds = [event["event"] for event in modes["custom"]]
    assert kinds[0] == "wave_planned" and kinds[-1] == "finished"
    assert {"batch_generated", "validated", "repairs_planned", "recorded"} <= set(kinds)
    recorded = [e for e in modes["custom"] if e["event"] == "recorded"]
    assert recorded[-1]["accepted"] == 10 and recorded[-1]["tokens"] > 0
    assert "finish" in modes["updates"][-1]
