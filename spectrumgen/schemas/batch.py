"""A batch: the scenarios of one LLM call, the raw reply, and what became of each scenario."""

from __future__ import annotations

from pydantic import BaseModel, Field

from spectrumgen.schemas.example import GeneratedItem
from spectrumgen.schemas.scenario import Scenario


class BatchReply(BaseModel):
    """The reply the LLM gave for one batch (the JSON shape the prompt asks for)."""

    examples: list[GeneratedItem]


class BatchTask(BaseModel):
    """One batch sent to the generate node (the payload of a LangGraph `Send`)."""

    batch_id: str
    wave: int
    scenarios: list[Scenario]


class RawReply(BaseModel):
    """What one LLM call returned, before parsing."""

    batch_id: str
    wave: int
    scenarios: list[Scenario]
    text: str = ""
    error: str | None = None
    model: str
    backend: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = False
    seconds: float = 0.0


class Outcome(BaseModel):
    """What happened to one scenario in one attempt: an item, and whether it was accepted."""

    batch_id: str
    scenario: Scenario
    item: GeneratedItem | None = None
    accepted: bool = False
    reasons: list[str] = Field(default_factory=list)
    retryable: bool = Field(default=True, description="False when a repair cannot help.")
    model: str = ""
    backend: str = ""


class RejectedRecord(BaseModel):
    """One failed attempt: one line of rejected.jsonl."""

    run_id: str
    scenario_id: str
    batch_id: str
    attempt: int
    capacity_level: str
    authenticity_target: str
    complexity_type: str
    reasons: list[str]
    item: GeneratedItem | None = None
    model: str
    backend: str

    @classmethod
    def from_outcome(cls, run_id: str, outcome: Outcome) -> RejectedRecord:
        """The record of a rejected outcome."""
        scenario = outcome.scenario
        return cls(
            run_id=run_id,
            scenario_id=scenario.scenario_id,
            batch_id=outcome.batch_id,
            attempt=scenario.attempt,
            capacity_level=scenario.capacity_level,
            authenticity_target=scenario.authenticity_target,
            complexity_type=scenario.complexity_type,
            reasons=outcome.reasons,
            item=outcome.item,
            model=outcome.model,
            backend=outcome.backend,
        )
