"""review: optionally pause before recording so a person approves, edits or rejects items.

With the context's `review` on, the graph stops here (LangGraph `interrupt`) showing the wave's
accepted items. Resume it with `Command(resume=...)`, the value being one of:

    {"approve": "all"}                                   record everything shown
    {"reject": ["s00003"], "edit": {"s00004": {"response": "..."}}}
                                                         items not named are approved

A rejected item goes to repair with the reason "rejected by reviewer"; an edited item is checked
against the spec's rules again and rejected with their reasons if it no longer passes. Needs a
checkpointer (LangGraph Studio and `langgraph dev` bring one).
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from spectrumgen.errors import BadInputError
from spectrumgen.graph.state import GenerationState
from spectrumgen.nodes.common import node_parts
from spectrumgen.nodes.validate import check_example
from spectrumgen.schemas.batch import Outcome

REJECTED_BY_REVIEWER = "rejected by reviewer"


def review(state: GenerationState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Interrupt with the wave's accepted items when review is on; apply the decision."""
    parts = node_parts(runtime, state)
    if not parts.context.review:
        return {}
    outcomes = [Outcome.model_validate(o) for o in state.get("outcomes", [])]
    shown = [o for o in outcomes if o.accepted and o.item is not None]
    if not shown:
        return {}
    decision = interrupt(
        {
            "question": "Approve, edit or reject these examples before they are recorded.",
            "answer_with": {"approve": "all", "reject": ["scenario_id"], "edit": {"id": {}}},
            "wave": state.get("wave"),
            "items": [
                {
                    "scenario_id": o.scenario.scenario_id,
                    "capacity_level": o.scenario.capacity_level,
                    "authenticity_target": o.scenario.authenticity_target,
                    "complexity_type": o.scenario.complexity_type,
                    **(o.item.model_dump() if o.item else {}),
                }
                for o in shown
            ],
        }
    )
    rejected, edits = _read_decision(decision, {o.scenario.scenario_id for o in shown})
    for outcome in shown:
        scenario_id = outcome.scenario.scenario_id
        if scenario_id in rejected:
            outcome.accepted, outcome.reasons = False, [REJECTED_BY_REVIEWER]
        elif scenario_id in edits and outcome.item is not None:
            outcome.item = outcome.item.model_copy(update=edits[scenario_id])
            outcome.reasons = check_example(parts.spec, outcome.scenario, outcome.item)
            outcome.accepted = not outcome.reasons
    parts.emit(
        {
            "event": "reviewed",
            "wave": state.get("wave"),
            "rejected": sorted(rejected),
            "edited": sorted(edits),
        }
    )
    return {"outcomes": [o.model_dump() for o in outcomes]}


def _read_decision(decision: Any, ids: set[str]) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """The rejected ids and the edits of a reviewer's answer.

    Raises:
        BadInputError: an answer of another shape, or naming items that were not shown.
    """
    if not isinstance(decision, dict):
        raise BadInputError(f"review answer must be a dict like {{'approve': 'all'}}: {decision!r}")
    if decision.get("approve") == "all":
        return set(), {}
    rejected = set(decision.get("reject") or [])
    edits = dict(decision.get("edit") or {})
    unknown = (rejected | set(edits)) - ids
    if unknown:
        raise BadInputError(f"review answer names items not shown: {', '.join(sorted(unknown))}")
    allowed = {"context", "response", "reasoning", "support_provided", "authenticity_score"}
    for scenario_id, fields in edits.items():
        if not isinstance(fields, dict) or set(fields) - allowed:
            raise BadInputError(f"edit for {scenario_id} may change only {', '.join(allowed)}")
    return rejected, edits
