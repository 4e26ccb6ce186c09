"""A host data agent (its module is named `graph`, like spectrumgen's package) that embeds
spectrumgen both ways: as a node sharing state keys, and from a wrapper node."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from nodes import make_dataset, plan_request, summarise
from typing_extensions import TypedDict

from spectrumgen import build_graph


@dataclass
class HostContext:
    """The host's own context: spectrumgen nodes take the fields they share by name."""

    db_url: str
    backend: str = "scripted"
    out_dir: str | None = None
    ledger_url: str = ""
    out: str | None = None
    reviewer: str = "host"


class SharedKeysState(TypedDict, total=False):
    wanted: int
    notes: Annotated[list[str], operator.add]
    target: int  # shared with spectrumgen's input
    run_id: str
    status: str  # shared with spectrumgen's output
    accepted: int
    files: dict[str, str]
    manifest: dict[str, Any]


class WrapperState(TypedDict, total=False):
    wanted: int
    dataset_status: str
    dataset_files: dict[str, str]


def shared_keys_host(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """spectrumgen's graph added as a node: its input and output keys are the host's keys."""
    host = StateGraph(SharedKeysState, context_schema=HostContext)
    host.add_node("plan_request", plan_request)
    host.add_node("spectrumgen", build_graph().compile())
    host.add_node("summarise", summarise)
    host.add_edge(START, "plan_request")
    host.add_edge("plan_request", "spectrumgen")
    host.add_edge("spectrumgen", "summarise")
    host.add_edge("summarise", END)
    return host.compile(checkpointer=checkpointer)


def wrapper_host(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """spectrumgen run from a node of the host, with a context of its own."""
    host = StateGraph(WrapperState, context_schema=HostContext)
    host.add_node("make_dataset", make_dataset)
    host.add_edge(START, "make_dataset")
    host.add_edge("make_dataset", END)
    return host.compile(checkpointer=checkpointer)
