"""A scenario: one planned cell made concrete, the unit the LLM writes one example for."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Cell(BaseModel):
    """One combination of buckets: a cell of the coverage ledger."""

    capacity_level: str
    authenticity_target: str
    complexity_type: str

    def key(self) -> tuple[str, str, str]:
        """The cell as a tuple, for dictionaries and sets."""
        return (self.capacity_level, self.authenticity_target, self.complexity_type)


class Scenario(Cell):
    """A cell with numbers drawn inside its buckets and the values the spec derives from them."""

    scenario_id: str
    effective_capacity: float
    authenticity_score: float = Field(description="Suggested score inside the target's range.")
    authenticity_low: float
    authenticity_high: float
    support_needed: float
    support_ceiling: float = Field(description="min(maximum, effective_capacity + offset).")
    attempt: int = 1
    feedback: list[str] = Field(
        default_factory=list, description="Why the previous attempt failed, for a repair."
    )
    situation: str | None = Field(
        default=None, description="Two-stage mode: the situation stage 1 wrote for stage 2."
    )
    hints: dict[str, str] = Field(
        default_factory=dict, description="The spec's situation hints drawn for this scenario."
    )

    @property
    def repairs_so_far(self) -> int:
        """Attempts before this one that failed (moving on to stage 2 is not a repair)."""
        return self.attempt - 1 - (1 if self.situation else 0)
