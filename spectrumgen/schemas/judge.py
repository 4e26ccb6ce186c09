"""What the judge model returns per example: how well it shows its complexity type, its own
authenticity estimate (made without seeing the target), and the main problem, if any."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from spectrumgen.schemas.batch import SCORE_STEP, steps

FIT_STEP = 0.1
PROBLEMS = ("none", "incoherent", "off_topic", "copied", "wrong_type", "implausible")
# Problems that reject an example whatever its scores.
HARD_PROBLEMS = ("incoherent", "off_topic", "copied")


class JudgeScore(BaseModel):
    """The judge's verdict on one example."""

    scenario_id: str
    fit: float = Field(ge=0, le=1, description="How clearly it shows its complexity type, 0-1.")
    authenticity: float | None = Field(
        default=None, ge=0, le=1, description="The judge's own authenticity estimate, 0-1."
    )
    problem: Literal["none", "incoherent", "off_topic", "copied", "wrong_type", "implausible"] = (
        "none"
    )
    why: str = Field(default="", description="One sentence on what fits or does not.")


class JudgeReply(BaseModel):
    """The judge's reply for one batch."""

    scores: list[JudgeScore]


def judge_json_schema(scenario_ids: list[str], max_why_chars: int = 240) -> dict[str, Any]:
    """The judge reply's schema: one verdict per example, in order, its id fixed."""
    items = [
        {
            "type": "object",
            "properties": {
                "scenario_id": {"type": "string", "const": scenario_id},
                "fit": {"type": "number", "enum": steps(0.0, 1.0, FIT_STEP)},
                "authenticity": {"type": "number", "enum": steps(0.0, 1.0, SCORE_STEP)},
                "problem": {"type": "string", "enum": list(PROBLEMS)},
                "why": {"type": "string", "maxLength": max_why_chars},
            },
            "required": ["scenario_id", "fit", "authenticity", "problem", "why"],
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
