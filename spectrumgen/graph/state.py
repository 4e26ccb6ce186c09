"""The graph's state. Values are plain JSON-able dicts so any checkpointer and Studio can hold them.

Each list holds pydantic models dumped with `model_dump()`: scenarios (`Scenario`), batch tasks
(`BatchTask`), replies (`RawReply`) and outcomes (`Outcome`).
"""

from __future__ import annotations

from typing import Annotated, Any, Required

from pydantic import Field
from typing_extensions import TypedDict  # pydantic (so Studio's schemas) needs this one on 3.11


def extend_or_reset(current: list[Any] | None, update: list[Any] | None) -> list[Any]:
    """Reducer for fanned-out writes: parallel batches append; writing None empties the list."""
    if update is None:
        return []
    return [*(current or []), *update]


class GenerationInput(TypedDict, total=False):
    """What a caller passes in: how many examples, and optionally which run, spec and settings."""

    target: Required[Annotated[int, Field(description="Examples wanted (1 or more).", ge=1)]]
    run_id: Annotated[str, Field(description="A run to continue; a new one when absent.")]
    spec: Annotated[
        str, Field(description="Built-in spec name or spec file; else the context's spec.")
    ]
    overrides: Annotated[
        dict[str, Any],
        Field(description='Context fields for this run only, e.g. {"batch_size": 8}.'),
    ]
    focus_cells: Annotated[
        list[dict[str, str]],
        Field(
            description="Cells to plan first (capacity_level, authenticity_target, "
            "complexity_type), e.g. a coverage report's gaps."
        ),
    ]


class GenerationOutput(TypedDict, total=False):
    """What a run hands back.

    status: complete, budget_spent or quotas_unmet. accepted: examples the run holds. quota: its
    standing per bucket. files: where examples.jsonl, rejected.jsonl and manifest.json went
    (empty without an out_dir). manifest: everything about how the data came to be.
    """

    run_id: str
    status: str
    accepted: int
    quota: dict[str, Any]
    files: dict[str, str]
    manifest: dict[str, Any]


def lane_results(current: list[Any] | None, update: list[Any] | None) -> list[Any]:
    """Reducer for what each lane reports when it ends (lanes end in any order)."""
    return [*(current or []), *(update or [])]


class RunFields(TypedDict, total=False):
    """What the run and each of its lanes both carry: which run, of what, since when."""

    target: int
    run_id: str
    spec: str
    overrides: dict[str, Any]
    focus_cells: list[dict[str, str]]
    started_at: float


class RunState(RunFields, total=False):
    """What the run carries around its lanes: who it is, and, at the end, how it went."""

    lanes: int
    ended: Annotated[list[dict[str, Any]], lane_results]
    status: str
    accepted: int
    quota: dict[str, Any]
    files: dict[str, str]
    manifest: dict[str, Any]


class GenerationState(RunFields, total=False):
    """Everything one lane's loop carries between nodes (`spectrumgen.graph.lanes`)."""

    lane: int
    wave: int
    planned_cells: list[dict[str, Any]]
    wave_repairs: list[dict[str, Any]]
    repair_queue: list[dict[str, Any]]
    replan_cells: list[dict[str, Any]]
    batches: list[dict[str, Any]]
    replies: Annotated[list[dict[str, Any]], extend_or_reset]
    outcomes: list[dict[str, Any]]
    accepted: int
    files: dict[str, str]
    judge_calls: list[dict[str, Any]]
    llm_calls: int
    calls_allowed: int
    call_budget: int
    budget_rule: str
    tokens_used: int
    token_budget: int | None
    status: str
    quota: dict[str, Any]
    manifest: dict[str, Any]
