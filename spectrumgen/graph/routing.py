"""Routing: small edge functions, so the drawn graph shows every route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Send

from spectrumgen.graph.state import GenerationState, RunState
from spectrumgen.nodes.common import node_parts

LANE_INPUT = ("target", "run_id", "spec", "overrides", "started_at")


def fan_out_lanes(state: RunState) -> list[Send]:
    """One `lane` per lane of the run, side by side; cells asked for first are dealt out."""
    lanes = max(1, int(state.get("lanes", 1)))
    given = {key: state[key] for key in LANE_INPUT if key in state}  # type: ignore[literal-required]
    focus = state.get("focus_cells") or []
    return [
        Send("lane", {**given, "lane": lane, "focus_cells": focus[lane::lanes]})
        for lane in range(lanes)
    ]


def after_planning(state: GenerationState) -> str:
    """Compose when the lane has work, else the lane ends (the run is done, out of budget, or
    the rest is in other lanes' hands)."""
    if state.get("planned_cells") or state.get("wave_repairs"):
        return "compose"
    return END


def fan_out_batches(state: GenerationState) -> list[Send]:
    """One `generate` task per batch of the wave, run in parallel."""
    settings = {
        "spec": state.get("spec"),
        "overrides": state.get("overrides") or {},
        "run_id": state.get("run_id"),
        "lane": state.get("lane", 0),
    }
    return [Send("generate", {**batch, **settings}) for batch in state.get("batches", [])]


def after_validation(state: GenerationState, runtime: Runtime[Any]) -> str:
    """Judge the batch when a judge is on, else show it for review when review is on, else go
    on to repair: a step the run does not use is not taken at every batch."""
    parts = node_parts(runtime, state)
    if parts.routes.judge:
        return "judge"
    return after_judging(state, runtime)


def after_judging(state: GenerationState, runtime: Runtime[Any]) -> str:
    """Review when review is on, else repair."""
    return "review" if node_parts(runtime, state).context.review else "repair"


def after_recording(state: GenerationState) -> str:
    """Loop until target and quotas are met, or the call or token budget is spent."""
    quota = state.get("quota") or {}
    if quota.get("met"):
        return END
    if budget_spent(state):
        return END
    if int(quota.get("accepted", 0)) >= int(state.get("target", 0)):
        return END  # target reached but a threshold fell short: more batches cannot help
    return "plan_gaps"


def budget_spent(state: Mapping[str, Any]) -> bool:
    """True once the run used its LLM calls or its tokens (when it has a token budget)."""
    if int(state.get("llm_calls", 0)) >= int(state.get("call_budget", 0)):
        return True
    token_budget = state.get("token_budget")
    return token_budget is not None and int(state.get("tokens_used", 0)) >= token_budget
