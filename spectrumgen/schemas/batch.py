"""A batch: the scenarios of one LLM call, the raw reply, and what became of each scenario."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spectrumgen.schemas.example import TEXT_FIELDS, GeneratedItem
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.schemas.spec import Spec

SUPPORT_STEP = 0.5
SCORE_STEP = 0.05
FULL, SITUATION, RESPONSE = "full", "situation", "response"


def stage_of(scenario: Scenario, stages: int) -> str:
    """Which stage a scenario is at: whole examples, or (two stages) situation then response."""
    if stages < 2:
        return FULL
    return RESPONSE if scenario.situation else SITUATION


class SituationItem(BaseModel):
    """Stage 1 of the two-stage mode: the situation for one scenario."""

    model_config = ConfigDict(extra="ignore")

    scenario_id: str
    context: str = Field(description="The situation: who asks for what, and why now.")


class BatchReply(BaseModel):
    """The reply the LLM gave for one batch (the JSON shape the prompt asks for)."""

    examples: list[GeneratedItem]


def batch_json_schema(
    spec: Spec,
    scenarios: list[Scenario],
    text_schemas: Callable[[Scenario], dict[str, dict[str, Any]]] | None = None,
    stage: str = FULL,
) -> dict[str, Any]:
    """The reply's JSON schema for one batch, tightened per scenario for constrained decoding.

    One item per scenario, in order, its id fixed; `support_provided` limited to the values the
    scenario's ceiling allows and `authenticity_score` to its target's range (as enums: grammar
    converters handle those everywhere, numeric bounds rarely). Texts must be at least as long as
    validation wants; a backend may give its own schema per scenario and text field (the embedded
    one asks for words, and fixes how each field begins and ends).
    """
    plain = {"type": "string", "minLength": spec.example_rules.min_text_chars}

    def texts(scenario: Scenario) -> dict[str, dict[str, Any]]:
        given = text_schemas(scenario) if text_schemas else {}
        return {name: given.get(name, plain) for name in TEXT_FIELDS}

    items = [_item_schema(s, texts(s), stage) for s in scenarios]
    key = "situations" if stage == SITUATION else "examples"
    return {
        "type": "object",
        "properties": {
            key: {
                "type": "array",
                "prefixItems": items,
                "items": False,
                "minItems": len(items),
                "maxItems": len(items),
            }
        },
        "required": [key],
    }


def _item_schema(
    scenario: Scenario, texts: dict[str, dict[str, Any]], stage: str
) -> dict[str, Any]:
    scenario_id = {"type": "string", "const": scenario.scenario_id}
    if stage == SITUATION:
        return {
            "type": "object",
            "properties": {"scenario_id": scenario_id, "context": texts["context"]},
            "required": ["scenario_id", "context"],
        }
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "scenario_id": scenario_id,
            **{name: texts[name] for name in TEXT_FIELDS},
            "support_provided": {
                "type": "number",
                "enum": steps(0.0, scenario.support_ceiling, SUPPORT_STEP),
            },
            "authenticity_score": {
                "type": "number",
                "enum": steps(scenario.authenticity_low, scenario.authenticity_high, SCORE_STEP),
            },
        },
        "required": list(GeneratedItem.model_fields),
    }
    if stage == RESPONSE:  # the situation is given: the model writes the rest
        del schema["properties"]["context"]
        schema["required"].remove("context")
    return schema


def steps(low: float, high: float, step: float) -> list[float]:
    """The multiples of `step` from `low` to `high`, both included where they fall on a step."""
    first, last = math.ceil(round(low / step, 6)), math.floor(round(high / step, 6))
    return [round(i * step, 4) for i in range(first, last + 1)]


class BatchTask(BaseModel):
    """One batch sent to the generate node (the payload of a LangGraph `Send`)."""

    batch_id: str
    wave: int
    scenarios: list[Scenario]
    model: str | None = Field(default=None, description="The routed model; None for the run's.")
    stage: str = Field(default=FULL, description="full, or situation / response (two stages).")
    spec: str | None = Field(default=None, description="The run's input spec, if it named one.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="The run's overrides.")


class JudgeCall(BaseModel):
    """What the judge's call for one batch cost (its scores live on the outcomes)."""

    batch_id: str
    model: str
    backend: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = False
    seconds: float = 0.0
    error: str | None = None
    requests: int = Field(default=1, description="HTTP requests, retries included.")


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
    truncated: bool = Field(default=False, description="The reply hit its token limit.")
    requests: int = Field(default=1, description="HTTP requests, retries included.")
    stage: str = FULL


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
    judge_score: float | None = None
    judge_authenticity: float | None = None
    stage: str = FULL
    situation: str | None = Field(default=None, description="Stage 1's accepted situation.")


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
    judge_fit: float | None = None
    judge_authenticity: float | None = None

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
            judge_fit=outcome.judge_score,
            judge_authenticity=outcome.judge_authenticity,
        )
