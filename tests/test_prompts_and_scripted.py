"""The batch prompt keeps its shared part short; the scripted model answers it, faults on demand."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from spectrumgen.llm.scripted import FAULT_KINDS, ScriptedCallError, ScriptedChatModel
from spectrumgen.llm.tokens import estimate_tokens
from spectrumgen.nodes.parse import parse_reply
from spectrumgen.nodes.validate import check_example
from spectrumgen.schemas.prompts import read_scenario_lines, system_prompt, user_prompt
from spectrumgen.schemas.spec import Spec
from tests.helpers import make_scenarios


def test_the_shared_rules_stay_under_300_tokens_with_every_target_and_type(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 8)  # all 4 targets and all 8 types
    shared = system_prompt(spec, scenarios)
    assert {s.authenticity_target for s in scenarios} == set(
        spec.bucket_names("authenticity_target")
    )
    assert estimate_tokens(shared) < 300, estimate_tokens(shared)


def test_the_shared_rules_name_only_what_the_batch_uses(spec: Spec) -> None:
    scenarios = [s for s in make_scenarios(spec, 8) if s.complexity_type == "baseline"]
    shared = system_prompt(spec, scenarios)
    assert "baseline" in shared and "people_pleasing" not in shared


def test_scenario_lines_round_trip_and_carry_repair_feedback(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 3)
    scenarios[1] = scenarios[1].model_copy(
        update={"attempt": 2, "feedback": ["support_provided 9 is outside 0-5.2"]}
    )
    lines = read_scenario_lines(user_prompt(scenarios))
    assert [line["id"] for line in lines] == [s.scenario_id for s in scenarios]
    assert lines[1]["fix"] == "support_provided 9 is outside 0-5.2"
    assert "fix" not in lines[0]


def _ask(model: ScriptedChatModel, spec: Spec, count: int = 8) -> tuple[list, str]:
    scenarios = make_scenarios(spec, count)
    message = model.invoke(
        [SystemMessage(system_prompt(spec, scenarios)), HumanMessage(user_prompt(scenarios))]
    )
    return scenarios, str(message.content)


def test_the_scripted_model_writes_a_valid_example_per_scenario(spec: Spec) -> None:
    scenarios, text = _ask(ScriptedChatModel(), spec, 16)
    parsed = parse_reply(text, [s.scenario_id for s in scenarios])
    assert len(parsed.items) == 16
    for scenario in scenarios:
        assert check_example(spec, scenario, parsed.items[scenario.scenario_id]) == []


def test_the_scripted_model_is_deterministic_and_reports_usage(spec: Spec) -> None:
    model = ScriptedChatModel(seed=7, fault_rate=0.5)
    assert _ask(model, spec)[1] == _ask(model, spec)[1]
    scenarios = make_scenarios(spec, 2)
    message = model.invoke([HumanMessage(user_prompt(scenarios))])
    assert message.usage_metadata["input_tokens"] > 0
    assert message.usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_each_fault_kind_breaks_items_as_named(spec: Spec, fault: str) -> None:
    scenarios, text = _ask(ScriptedChatModel(fault_rate=1.0, faults=(fault,)), spec, 4)
    parsed = parse_reply(text, [s.scenario_id for s in scenarios])
    by_id = {s.scenario_id: s for s in scenarios}
    if fault in ("malformed", "missing"):
        assert len(parsed.items) < 4
        return
    assert len(parsed.items) == 4
    broken = [check_example(spec, by_id[i], item) for i, item in parsed.items.items()]
    if fault == "duplicate":
        responses = [item.response for item in parsed.items.values()]
        assert len(set(responses)) == 1
    else:
        assert all(broken), broken


def test_call_errors_raise_and_the_same_batch_fails_the_same_way(spec: Spec) -> None:
    model = ScriptedChatModel(call_error_rate=1.0)
    with pytest.raises(ScriptedCallError):
        _ask(model, spec)


def test_wrapped_replies_carry_think_tags_and_fences(spec: Spec) -> None:
    scenarios, text = _ask(ScriptedChatModel(wrap_reply=True), spec, 3)
    assert text.startswith("<think>") and "```json" in text
    assert len(parse_reply(text, [s.scenario_id for s in scenarios]).items) == 3
    json.loads(text.split("```json")[1].split("```")[0])
