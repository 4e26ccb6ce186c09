"""The graph's state. Values are plain JSON-able dicts so any checkpointer and Studio can hold them.

Each list holds pydantic models dumped with `model_dump()`: scenarios (`Scenario`), batch tasks
(`BatchTask`), replies (`RawReply`) and outcomes (`Outcome`).
"""

from __future__ import annotations

from typing import Annotated, Any, Required, TypedDict


def extend_or_reset(current: list[Any] | None, update: list[Any] | None) -> list[Any]:
    """Reducer for fanned-out writes: parallel batches append; writing None empties the list."""
    if update is None:
        return []
    return [*(current or []), *update]


class GenerationInput(TypedDict, total=False):
    """What a caller passes in: the number of examples wanted, and a run id to continue."""

    target: Required[int]
    run_id: str


class GenerationOutput(TypedDict, total=False):
    """What a run hands back."""

    run_id: str
    status: str
    quota: dict[str, Any]
    manifest: dict[str, Any]


class GenerationState(TypedDict, total=False):
    """Everything the loop carries between nodes."""

    target: int
    run_id: str
    started_at: float
    wave: int
    planned_cells: list[dict[str, Any]]
    wave_repairs: list[dict[str, Any]]
    repair_queue: list[dict[str, Any]]
    replan_cells: list[dict[str, Any]]
    batches: list[dict[str, Any]]
    replies: Annotated[list[dict[str, Any]], extend_or_reset]
    outcomes: list[dict[str, Any]]
    judge_calls: list[dict[str, Any]]
    llm_calls: int
    call_budget: int
    tokens_used: int
    token_budget: int | None
    status: str
    quota: dict[str, Any]
    manifest: dict[str, Any]
