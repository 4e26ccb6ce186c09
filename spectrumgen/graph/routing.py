"""Routing: small edge functions, so the drawn graph shows every route."""

from __future__ import annotations

from typing import Literal

from langgraph.types import Send

from spectrumgen.graph.state import GenerationState


def after_planning(state: GenerationState) -> Literal["compose", "finish"]:
    """Compose when the wave has work, else the run is done (or out of budget)."""
    if state.get("planned_cells") or state.get("wave_repairs"):
        return "compose"
    return "finish"


def fan_out_batches(state: GenerationState) -> list[Send]:
    """One `generate` task per batch of the wave, run in parallel."""
    settings = {"spec": state.get("spec"), "overrides": state.get("overrides") or {}}
    return [Send("generate", {**batch, **settings}) for batch in state.get("batches", [])]


def after_recording(state: GenerationState) -> Literal["plan_gaps", "finish"]:
    """Loop until target and quotas are met, or the call or token budget is spent."""
    quota = state.get("quota") or {}
    if quota.get("met"):
        return "finish"
    if budget_spent(state):
        return "finish"
    if int(quota.get("accepted", 0)) >= int(state.get("target", 0)):
        return "finish"  # target reached but a threshold fell short: more waves cannot help
    return "plan_gaps"


def budget_spent(state: GenerationState) -> bool:
    """True once the run used its LLM calls or its tokens (when it has a token budget)."""
    if int(state.get("llm_calls", 0)) >= int(state.get("call_budget", 0)):
        return True
    token_budget = state.get("token_budget")
    return token_budget is not None and int(state.get("tokens_used", 0)) >= token_budget
