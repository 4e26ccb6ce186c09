"""parse salvages every valid item from a partly broken reply and matches items by id."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from spectrumgen.nodes.parse import parse, parse_reply
from spectrumgen.schemas.batch import RawReply
from spectrumgen.schemas.spec import Spec
from tests.helpers import make_scenarios, valid_item


def _reply(items: list[dict]) -> str:
    return json.dumps({"examples": items})


def test_a_clean_reply_gives_every_item(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 5)
    items = [valid_item(s) for s in scenarios]
    parsed = parse_reply(_reply(items), [s.scenario_id for s in scenarios])
    assert sorted(parsed.items) == [s.scenario_id for s in scenarios]
    assert not parsed.invalid


def test_think_tags_code_fences_and_trailing_junk_are_ignored(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 3)
    text = (
        "<think>I should write {three} examples</think>\n```json\n"
        + _reply([valid_item(s) for s in scenarios])
        + "\n```\nLet me know if you need more! }"
    )
    parsed = parse_reply(text, [s.scenario_id for s in scenarios])
    assert len(parsed.items) == 3


def test_a_bare_list_of_items_is_read_too(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 2)
    parsed = parse_reply(
        json.dumps([valid_item(s) for s in scenarios]), [s.scenario_id for s in scenarios]
    )
    assert len(parsed.items) == 2


def test_a_broken_item_in_the_middle_does_not_lose_its_neighbours(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 5)
    pieces = [json.dumps(valid_item(s)) for s in scenarios]
    pieces[2] = pieces[2][: len(pieces[2]) // 2] + ' "oops'
    text = '{"examples": [' + ", ".join(pieces) + "]}"
    parsed = parse_reply(text, [s.scenario_id for s in scenarios])
    intact = {s.scenario_id for i, s in enumerate(scenarios) if i != 2}
    assert intact <= set(parsed.items)
    assert scenarios[2].scenario_id not in parsed.items


def test_a_reply_cut_off_mid_item_keeps_the_complete_ones(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 4)
    text = _reply([valid_item(s) for s in scenarios])
    cut = text[: text.index(scenarios[3].scenario_id) + 20]
    parsed = parse_reply(cut, [s.scenario_id for s in scenarios])
    assert set(parsed.items) == {s.scenario_id for s in scenarios[:3]}


def test_items_for_unknown_ids_are_dropped_and_an_invalid_item_says_why(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 2)
    stray = valid_item(scenarios[0]) | {"scenario_id": "s99999"}
    invalid = valid_item(scenarios[1])
    del invalid["response"]
    parsed = parse_reply(
        _reply([valid_item(scenarios[0]), stray, invalid]), [s.scenario_id for s in scenarios]
    )
    assert set(parsed.items) == {scenarios[0].scenario_id}
    assert "response" in parsed.invalid[scenarios[1].scenario_id]
    assert any("s99999" in note for note in parsed.notes)


def test_the_node_reports_missing_invalid_and_failed_calls_per_scenario(spec: Spec) -> None:
    scenarios = make_scenarios(spec, 6)
    broken = valid_item(scenarios[1])
    broken["support_provided"] = "lots"
    good = RawReply(
        batch_id="b1",
        wave=1,
        scenarios=scenarios[:3],
        model="m",
        backend="scripted",
        text=_reply([valid_item(scenarios[0]), broken]),
    )
    failed = RawReply(
        batch_id="b2",
        wave=1,
        scenarios=scenarios[3:],
        model="m",
        backend="scripted",
        error="TimeoutError: slow",
    )
    outcomes = parse({"replies": [good.model_dump(), failed.model_dump()]})["outcomes"]
    by_id = {o["scenario"]["scenario_id"]: o for o in outcomes}
    assert by_id["s00000"]["item"] is not None
    assert "support_provided" in by_id["s00001"]["reasons"][0]
    assert by_id["s00002"]["reasons"] == ["missing from the reply"]
    assert all("LLM call failed" in by_id[s.scenario_id]["reasons"][0] for s in scenarios[3:])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(text: str) -> None:
    parsed = parse_reply(text, ["s00000", "s00001"])
    assert set(parsed.items) <= {"s00000", "s00001"}


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_intact_item_survives_damage_to_the_others(spec: Spec, data: st.DataObject) -> None:
    scenarios = make_scenarios(spec, 5)
    pieces = [json.dumps(valid_item(s)) for s in scenarios]
    damaged = data.draw(st.sets(st.integers(0, 4), max_size=4))
    for index in damaged:
        cut = data.draw(st.integers(1, len(pieces[index]) - 2))
        junk = data.draw(st.sampled_from(['"', "{", "]", ",", "", "}}", "\\"]))
        pieces[index] = pieces[index][:cut] + junk
    separator = data.draw(st.sampled_from([", ", ",\n", "\n", " "]))
    text = '{"examples": [' + separator.join(pieces) + "]}"
    parsed = parse_reply(text, [s.scenario_id for s in scenarios])
    for index, scenario in enumerate(scenarios):
        if index not in damaged:
            assert scenario.scenario_id in parsed.items
