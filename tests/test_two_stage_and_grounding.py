"""Two-stage generation (situations, then responses) and numerical grounding."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.grounding import grounding_problems
from spectrumgen.ledger import open_ledger
from spectrumgen.llm.scripted import ScriptedChatModel
from spectrumgen.schemas.example import GeneratedItem
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.schemas.spec import Spec
from spectrumgen.specs import load_spec


def test_two_stages_write_situations_then_responses_and_repair_each_on_its_own(
    scripted_context: RunContext,
) -> None:
    scripted_context.stages = 2
    scripted_context.fault_rate = 0.25
    result = build_graph().compile().invoke({"target": 24}, context=scripted_context)
    assert result["status"] == "complete"
    ledger = open_ledger(scripted_context.db_url)
    examples = ledger.examples(result["run_id"])
    assert len(examples) == 24
    reasons = [r["reasons"][0] for r in ledger.rejections(result["run_id"])]
    assert any(r.startswith("context is empty or a placeholder") for r in reasons)  # stage 1
    assert any(not r.startswith("context") for r in reasons)  # stage 2
    manifest = result["manifest"]
    assert manifest["settings"]["stages"] == 2
    assert manifest["llm_calls"] >= 2 * -(-24 // scripted_context.batch_size)
    # the situation written in stage 1 is the example's context, whatever stage 2 said
    for example in examples:
        assert example["context"] and example["attempt"] >= 2


def grounded_spec(spec: Spec, folder: Path) -> str:
    data = spec.model_dump(mode="json")
    data["numerical_grounding"]["require_calculation_steps"] = True
    data["numerical_grounding"]["require_qualitative_anchors"] = True
    path = folder / "grounded.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_grounding_rejects_reasoning_whose_numbers_disagree_with_the_fields(
    scripted_context: RunContext, spec: Spec, tmp_path: Path
) -> None:
    scripted_context.spec = grounded_spec(spec, tmp_path)
    liar = ScriptedChatModel(faults=("miscalculation",), fault_rate=0.4)
    result = build_graph(chat_model=liar).compile().invoke({"target": 16}, context=scripted_context)
    assert result["status"] == "complete"
    ledger = open_ledger(scripted_context.db_url)
    reasons = [r["reasons"] for r in ledger.rejections(result["run_id"])]
    assert reasons and all(any("reasoning says capacity" in x for x in r) for r in reasons)
    grounded = load_spec(scripted_context.spec)
    for example in ledger.examples(result["run_id"]):
        scenario = Scenario.model_validate(
            example | {"authenticity_low": 0, "authenticity_high": 1}
        )
        assert grounding_problems(grounded, scenario, GeneratedItem.model_validate(example)) == []


def test_grounding_names_each_missing_step_and_anchor(spec: Spec, tmp_path: Path) -> None:
    grounded = load_spec(grounded_spec(spec, tmp_path))
    scenario, item = low_capacity_case("My capacity is 4 so I help a bit.")
    problems = grounding_problems(grounded, scenario, item)
    assert "reasoning says capacity 4, the fields give 3" in problems
    assert "reasoning does not state the ceiling (5)" in problems
    assert "reasoning does not state the gap (1)" in problems
    assert any(p.startswith("no qualitative anchor for low capacity") for p in problems)
    fixed = item.model_copy(
        update={
            "reasoning": "Capacity 3 allows at most 5; she needs 4, I give 3, a gap of 1. "
            "I feel drained."
        }
    )
    assert grounding_problems(grounded, scenario, fixed) == []


@pytest.mark.parametrize(
    ("reasoning", "problem"),
    [
        ("Capacity 3 allows up to 5 support; they need 4 and 6.5 for it.", "need 6.5"),
        ("Capacity 3 allows up to 5 support; they need 9.1 or 4 of it.", "need 9.1"),
        ("Capacity 3 allows up to 5 support; she needs 3.9 to 5.5 support.", "need 5.5"),
        ("Capacity 3 allows up to 5 support; they need 8 and the character gives 3.", "need 8"),
    ],
)
def test_every_stated_need_is_checked_even_two_at_once(
    spec: Spec, reasoning: str, problem: str
) -> None:
    # The embedded model's kept examples said "they need 6.5 and 7.5": a field has one value.
    scenario, item = low_capacity_case(reasoning)
    assert spec.numerical_grounding.check_stated_numbers
    assert grounding_problems(spec, scenario, item) == [
        f"reasoning says {problem}, the fields give 4"
    ]
    honest = item.model_copy(update={"reasoning": "Capacity 3 allows up to 5; they need 4."})
    assert grounding_problems(spec, scenario, honest) == []


def test_what_the_reasoning_says_is_given_is_checked_but_not_the_ceiling_it_names(
    spec: Spec,
) -> None:
    scenario, item = low_capacity_case(
        "Capacity 3 allows up to 5 support; they need 4 to provide 10 support."
    )
    assert grounding_problems(spec, scenario, item) == [
        "reasoning says support given 10, the fields give 3"
    ]
    ceiling = "Capacity 3: she could give up to 5, and gives 3 of the 4 needed."
    assert grounding_problems(spec, scenario, item.model_copy(update={"reasoning": ceiling})) == []


def low_capacity_case(reasoning: str) -> tuple[Scenario, GeneratedItem]:
    """A scenario at capacity 3 (ceiling 5, need 4) and an item giving 3 with this reasoning."""
    scenario = Scenario(
        scenario_id="s1",
        capacity_level="low",
        authenticity_target="authentic",
        complexity_type="baseline",
        effective_capacity=3.0,
        authenticity_score=0.7,
        authenticity_low=0.6,
        authenticity_high=0.8,
        support_needed=4.0,
        support_ceiling=5.0,
    )
    item = GeneratedItem(
        scenario_id="s1",
        context="Mara asks for help moving house this weekend.",
        response="I can give you Saturday morning, not the whole weekend.",
        reasoning=reasoning,
        support_provided=3.0,
        authenticity_score=0.7,
    )
    return scenario, item


def test_an_amount_stated_as_given_above_the_ceiling_is_flagged_even_within_the_tolerance(
    spec: Spec,
) -> None:
    # A kept embedded example said "gives all 10.4" with a ceiling of 10 and a field of 10: near
    # enough to the field, but a character giving more than it can.
    scenario, item = low_capacity_case("Capacity 3 allows up to 5; they need 4, she gives 5.4.")
    item = item.model_copy(update={"support_provided": 5.0})
    assert spec.numerical_grounding.stated_tolerance >= 0.4
    assert grounding_problems(spec, scenario, item) == [
        "reasoning says it gives 5.4, above the ceiling of 5"
    ]
    at_the_ceiling = item.model_copy(update={"reasoning": "Capacity 3: at most 5; she gives 5."})
    assert grounding_problems(spec, scenario, at_the_ceiling) == []
