"""A host data agent's own nodes (its module is named `nodes`, like spectrumgen's package)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from spectrumgen import RunContext, build_graph

DATASET_GRAPH = build_graph().compile()  # the wrapper way: compiled once, run from a node


def plan_request(state: dict[str, Any]) -> dict[str, Any]:
    """The host decides how many examples it wants."""
    return {"target": state["wanted"], "notes": ["planned"]}


def make_dataset(state: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
    """Run spectrumgen with a context of its own, mapping the host's keys in and out."""
    result = DATASET_GRAPH.invoke(
        {"target": state["wanted"]},
        context=RunContext(
            backend="scripted", db_url=runtime.context.ledger_url, out_dir=runtime.context.out
        ),
    )
    return {"dataset_status": result["status"], "dataset_files": result["files"]}


def summarise(state: dict[str, Any]) -> dict[str, Any]:
    """The host reads spectrumgen's output keys."""
    return {"notes": [f"status={state.get('status')}"]}
