"""What the LLM writes for one scenario, and the record spectrumgen keeps of an accepted one."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from spectrumgen.schemas.scenario import Scenario

TEXT_FIELDS = ("context", "response", "reasoning")  # the texts an item has, in reply order


class GeneratedItem(BaseModel):
    """One example as the LLM must produce it; matched to its scenario by `scenario_id`."""

    model_config = ConfigDict(extra="ignore")

    scenario_id: str = Field(description="The id of the scenario this example is for.")
    context: str = Field(description="The situation: who asks for what, and why now.")
    response: str = Field(description="What the character says or does.")
    reasoning: str = Field(
        description="The calculation in words: capacity, the ceiling it allows, the gap to what "
        "is needed, and why the response gives what it gives."
    )
    support_provided: float = Field(description="Support the character gives, 0-10.")
    authenticity_score: float = Field(description="How authentic the response is, 0-1.")


class ExampleRecord(BaseModel):
    """One accepted example: one line of examples.jsonl (DESIGN.md's record contract)."""

    id: str
    run_id: str
    scenario_id: str
    spec: str
    capacity_level: str
    effective_capacity: float
    authenticity_target: str
    authenticity_score: float
    complexity_type: str
    support_needed: float
    support_provided: float
    support_ceiling: float
    context: str
    response: str
    reasoning: str
    model: str
    backend: str
    attempt: int
    judge_fit: float | None = None
    judge_authenticity: float | None = None

    @classmethod
    def build(
        cls,
        *,
        run_id: str,
        spec: str,
        scenario: Scenario,
        item: GeneratedItem,
        model: str,
        backend: str,
        judge_fit: float | None = None,
        judge_authenticity: float | None = None,
    ) -> ExampleRecord:
        """Join a scenario with the item written for it."""
        return cls(
            id=f"{run_id}:{scenario.scenario_id}",
            run_id=run_id,
            scenario_id=scenario.scenario_id,
            spec=spec,
            capacity_level=scenario.capacity_level,
            effective_capacity=scenario.effective_capacity,
            authenticity_target=scenario.authenticity_target,
            authenticity_score=item.authenticity_score,
            complexity_type=scenario.complexity_type,
            support_needed=scenario.support_needed,
            support_provided=item.support_provided,
            support_ceiling=scenario.support_ceiling,
            context=item.context.strip(),
            response=item.response.strip(),
            reasoning=item.reasoning.strip(),
            model=model,
            backend=backend,
            attempt=scenario.attempt,
            judge_fit=judge_fit,
            judge_authenticity=judge_authenticity,
        )
