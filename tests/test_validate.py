"""validate: each per-example rule rejects what breaks it, and the run's quotas are enforced."""

from __future__ import annotations

import random

import pytest

from spectrumgen.graph.context import RunContext
from spectrumgen.nodes.compose import compose_scenario
from spectrumgen.nodes.validate import check_example, near_duplicate, validate
from spectrumgen.schemas.batch import Outcome
from spectrumgen.schemas.example import GeneratedItem
from spectrumgen.schemas.scenario import Cell
from spectrumgen.schemas.spec import Spec
from tests.helpers import FakeRuntime, make_scenarios, valid_item


def _item(spec: Spec, index: int = 0, **changes) -> tuple:
    scenario = make_scenarios(spec, index + 1)[index]
    return scenario, GeneratedItem.model_validate(valid_item(scenario) | changes)


def test_a_valid_item_passes_every_rule(spec: Spec) -> None:
    for scenario in make_scenarios(spec, 40):
        item = GeneratedItem.model_validate(valid_item(scenario))
        assert check_example(spec, scenario, item) == []


def test_support_above_the_ceiling_is_rejected_naming_the_rule(spec: Spec) -> None:
    scenario, item = _item(spec)
    item.support_provided = scenario.support_ceiling + 0.1
    reason, *others = check_example(spec, scenario, item)
    assert "support_provided" in reason and f"{scenario.support_ceiling:g}" in reason
    # Its reasoning still states the support it had, and the gap that left: both off now.
    assert {o.split(",")[0].rsplit(" ", 1)[0] for o in others} <= {
        "reasoning says gap",
        "reasoning says support given",
    }


def test_negative_support_is_rejected(spec: Spec) -> None:
    scenario, item = _item(spec, support_provided=-1)
    assert check_example(spec, scenario, item)


def test_a_score_outside_the_targets_range_is_rejected(spec: Spec) -> None:
    scenario, item = _item(spec)
    item.authenticity_score = scenario.authenticity_high + 0.01
    [reason] = check_example(spec, scenario, item)
    assert scenario.authenticity_target in reason


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "TODO",
        "n/a",
        "...",
        "Lorem ipsum dolor sit amet, etc.",
        "[insert response here]",
        "<response>",
        "aaaaaaaaaaaaaaaaaaaaaa",
    ],
)
def test_empty_and_placeholder_texts_are_rejected(spec: Spec, text: str) -> None:
    scenario, item = _item(spec, response=text)
    [reason] = check_example(spec, scenario, item)
    assert reason.startswith("response is empty or a placeholder")


def test_too_short_texts_are_rejected(spec: Spec) -> None:
    scenario, item = _item(spec, context="Needs help now.")
    [reason] = check_example(spec, scenario, item)
    assert reason.startswith("context is too short")


def test_near_duplicates_are_found_and_distinct_texts_are_not(spec: Spec) -> None:
    accepted = {"s1": "I can give you an hour on Friday, Mara, but that is all I have."}
    copy = "I can give you an hour on friday, Mara - but that is all I have!"
    assert "s1" in (near_duplicate(copy, accepted, spec) or "")
    other = "Absolutely not today. Ask your brother, I am exhausted and I mean it."
    assert near_duplicate(other, accepted, spec) is None


def test_the_node_rejects_duplicates_within_a_wave_and_overfull_buckets(
    spec: Spec, scripted_context: RunContext
) -> None:
    from spectrumgen.ledger import open_ledger

    open_ledger(scripted_context.db_url).start_run("r1", spec, 1, 0, "scripted", "m")
    only_cell = Cell(
        capacity_level="medium", authenticity_target="authentic", complexity_type="people_pleasing"
    )  # the one cell a target of 1 allows
    scenarios = [compose_scenario(spec, only_cell, f"s{i}", random.Random(i)) for i in range(3)]
    items = [GeneratedItem.model_validate(valid_item(s, seed=i)) for i, s in enumerate(scenarios)]
    items[1].response = items[0].response  # a copy of an item accepted earlier in the wave
    outcomes = [
        Outcome(batch_id="b", scenario=s, item=i).model_dump()
        for s, i in zip(scenarios, items, strict=True)
    ]
    runtime = FakeRuntime(scripted_context)
    result = validate({"run_id": "r1", "target": 1, "outcomes": outcomes}, runtime)  # type: ignore[arg-type]
    first, second, third = (Outcome.model_validate(o) for o in result["outcomes"])
    assert first.accepted
    assert not second.accepted and "near-duplicate" in second.reasons[0] and second.retryable
    assert not third.accepted and "quota" in third.reasons[0] and not third.retryable
    assert runtime.events[-1]["event"] == "validated"
    assert runtime.events[-1]["accepted"] == 1


def test_a_reasoning_whose_stated_numbers_contradict_the_fields_is_rejected(spec: Spec) -> None:
    scenario, item = _item(spec)
    assert not spec.numerical_grounding.require_calculation_steps  # the seed's default: off
    capacity, ceiling = scenario.effective_capacity, scenario.support_ceiling
    item.reasoning = (
        f"Capacity {capacity:g} allows up to {ceiling - 2:g} support, so the character gives "
        "what is needed without strain."
    )
    assert check_example(spec, scenario, item) == [
        f"reasoning says ceiling {ceiling - 2:g}, the fields give {ceiling:g}"
    ]
    item.reasoning = (
        f"Capacity {round(capacity):g} allows up to {ceiling:g} support, so the character gives "
        "what is needed without strain."
    )  # rounded to a whole number: within the tolerance
    assert check_example(spec, scenario, item) == []


def test_a_stated_need_or_support_given_that_contradicts_the_fields_is_rejected(
    spec: Spec,
) -> None:
    scenario, item = _item(spec)
    need, given = scenario.support_needed, item.support_provided
    item.reasoning = (
        f"Capacity {scenario.effective_capacity:g} allows up to {scenario.support_ceiling:g} "
        f"support; the friend needs {need + 9:g}, and the character gives {given + 3:g}."
    )
    assert check_example(spec, scenario, item) == [
        f"reasoning says need {need + 9:g}, the fields give {need:g}",
        f"reasoning says support given {given + 3:g}, the fields give {given:g}",
    ]
