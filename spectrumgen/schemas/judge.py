"""What the judge model returns: a fit score per accepted example (the seed's Phase 3 judge)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from spectrumgen.schemas.batch import steps

FIT_STEP = 0.1


class JudgeScore(BaseModel):
    """The judge's verdict on one example."""

    scenario_id: str
    fit: float = Field(ge=0, le=1, description="Fit to its complexity type and target, 0-1.")
    why: str = Field(default="", description="One sentence on what fits or does not.")


class JudgeReply(BaseModel):
    """The judge's reply for one batch."""

    scores: list[JudgeScore]


def judge_json_schema(scenario_ids: list[str], max_why_chars: int = 240) -> dict[str, Any]:
    """The judge reply's schema: one score per example, in order, its id fixed."""
    items = [
        {
            "type": "object",
            "properties": {
                "scenario_id": {"type": "string", "const": scenario_id},
                "fit": {"type": "number", "enum": steps(0.0, 1.0, FIT_STEP)},
                "why": {"type": "string", "maxLength": max_why_chars},
            },
            "required": ["scenario_id", "fit", "why"],
        }
        for scenario_id in scenario_ids
    ]
    return {
        "type": "object",
        "properties": {
            "scores": {
                "type": "array",
                "prefixItems": items,
                "items": False,
                "minItems": len(items),
                "maxItems": len(items),
            }
        },
        "required": ["scores"],
    }
