"""Exemplars in the spec and situation hints: how they reach the prompt, and what they never do."""

from __future__ import annotations

import json
import random

import pytest
from pydantic import ValidationError

from spectrumgen.nodes.compose import compose_scenario
from spectrumgen.schemas.prompts import (
    DOCUMENT_CUE,
    EXEMPLARS_HEADER,
    completion_document,
    pick_exemplars,
    read_scenario_lines,
    user_prompt,
)
from spectrumgen.schemas.scenario import Cell
from spectrumgen.schemas.spec import Spec
from tests.helpers import make_scenarios


def test_the_built_in_spec_has_exemplars_over_every_type_target_and_level(spec: Spec) -> None:
    assert len(spec.exemplars) >= 6
    for axis in ("capacity_level", "authenticity_target", "complexity_type"):
        covered = {getattr(e, axis) for e in spec.exemplars}
        assert covered == set(spec.bucket_names(axis)), axis


def test_exemplars_are_chosen_to_differ_from_the_batch(spec: Spec) -> None:
    scenarios = [s for s in make_scenarios(spec, 16) if s.complexity_type == "baseline"][:2]
    types = {s.complexity_type for s in scenarios}
    for key in ("a", "b", "c"):
        shown = pick_exemplars(spec, scenarios, 2, key)
        assert len(shown) == 2 and not types & {e.complexity_type for e in shown}
    assert pick_exemplars(spec, scenarios, 0, "a") == []
    picks = {tuple(id(e) for e in pick_exemplars(spec, scenarios, 2, str(k))) for k in range(20)}
    assert len(picks) > 1  # batches see different exemplars among equally distant ones


def test_the_chat_prompt_shows_exemplars_before_the_scenarios_it_asks_for(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 3)
    shown = pick_exemplars(spec, scenarios, 2, "k")
    prompt = user_prompt(scenarios, shown)
    head, _, tail = prompt.partition(EXEMPLARS_HEADER)
    assert head == "Write 3 examples.\n"
    assert [line["id"] for line in read_scenario_lines(prompt)] == [
        s.scenario_id for s in scenarios
    ]  # the scripted model and the parser still find only the batch's scenarios
    pairs = [json.loads(line) for line in tail.splitlines()[1:3]]
    assert [p["example"]["response"] for p in pairs] == [e.response.strip() for e in shown]


def test_the_completion_document_shows_exemplars_in_the_answers_own_form(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 2)
    shown = pick_exemplars(spec, scenarios, 2, "k")
    document = completion_document(spec, scenarios, shown)
    assert document.endswith(DOCUMENT_CUE)
    answer = next(line for line in document.splitlines() if line.startswith('{"examples"'))
    items = json.loads(answer)["examples"]
    assert [i["scenario_id"] for i in items] == ["e1", "e2"]
    assert items[0]["reasoning"] == shown[0].reasoning.strip()
    last = document.split("Scenarios:\n")[-1].splitlines()
    assert [json.loads(line)["id"] for line in last[:2]] == [s.scenario_id for s in scenarios]
    assert "e1" not in completion_document(spec, scenarios, [])


def test_compose_draws_situation_hints_without_moving_the_numbers(spec: Spec) -> None:
    cell = Cell(capacity_level="low", authenticity_target="failed", complexity_type="baseline")
    plain = spec.model_copy(update={"situation_hints": {}})
    with_hints = compose_scenario(spec, cell, "s1", random.Random(5))
    without = compose_scenario(plain, cell, "s1", random.Random(5))
    assert with_hints.model_dump(exclude={"hints"}) == without.model_dump(exclude={"hints"})
    assert set(with_hints.hints) == {"who", "asks", "when"} and without.hints == {}
    assert with_hints.hints["asks"] in spec.situation_hints["asks"]
    [line] = read_scenario_lines(user_prompt([with_hints]))
    assert line["who"] == with_hints.hints["who"]


def test_a_spec_refuses_a_bad_exemplar_or_hint_naming_the_field(spec: Spec) -> None:
    data = spec.model_dump()
    data["exemplars"][0]["support_provided"] = 9.9
    with pytest.raises(ValidationError, match=r"exemplars\[0\]\.support_provided"):
        Spec.model_validate(data)
    data = spec.model_dump()
    data["exemplars"][1]["complexity_type"] = "sulking"
    with pytest.raises(ValidationError, match=r"exemplars\[1\]\.complexity_type"):
        Spec.model_validate(data)
    data = spec.model_dump()
    data["situation_hints"] = {"target": ["x"]}
    with pytest.raises(ValidationError, match=r"situation_hints\.target"):
        Spec.model_validate(data)


def test_the_completion_document_leaves_repair_feedback_out(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0].model_copy(
        update={"attempt": 2, "feedback": ["response is a near-duplicate of scenario s00003"]}
    )
    document = completion_document(spec, [scenario], [])
    assert "near-duplicate" not in document and '"attempt": 2' in document
    assert "near-duplicate" in user_prompt([scenario])  # a chat model is told what to fix
