"""Property tests of the parser: arbitrary text never makes it raise, and every item that is
valid on its own survives whatever is done to the rest of the reply."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spectrumgen.nodes.parse import parse_items, parse_reply
from spectrumgen.schemas.batch import SituationItem
from spectrumgen.schemas.example import GeneratedItem
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.specs import load_spec
from tests.helpers import make_scenarios, valid_item

SCENARIOS: list[Scenario] = make_scenarios(load_spec("emotional_authenticity"), 6)
IDS = [s.scenario_id for s in SCENARIOS]
ITEMS = [valid_item(s, seed=i) for i, s in enumerate(SCENARIOS)]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text())
def test_arbitrary_text_never_raises_and_yields_only_expected_ids(text: str) -> None:
    parsed = parse_reply(text, IDS)
    assert set(parsed.items) <= set(IDS)
    assert set(parsed.invalid) <= set(IDS)


@FUZZ
@given(st.binary().map(lambda b: b.decode("utf-8", errors="replace")), st.sampled_from(IDS))
def test_bytes_and_json_shaped_junk_never_raise(junk: str, scenario_id: str) -> None:
    for text in (junk, "{" + junk, f'{{"scenario_id": "{scenario_id}", {junk}', "[" * 50 + junk):
        parse_reply(text, IDS)
        parse_items(text, IDS, SituationItem)


def _corrupt(item_text: str, how: int) -> str:
    if how == 0:
        return item_text[: len(item_text) // 2]  # cut off
    if how == 1:
        return item_text.replace('"support_provided"', '"support_provided": "lots", "x"')
    return item_text.replace("{", "{{", 1)  # malformed


separators = st.sampled_from([", ", ",\n", " ", "\n\n", ", junk, ", " } ] , "])
wrappers = st.sampled_from(
    [
        ("", ""),
        ('{"examples": [', "]}"),
        ('<think>planning {the} batch</think>\n```json\n{"examples": [', "]}\n```"),
        ("Sure! Here they are:\n", "\nHope this helps."),
        ('{"examples": [', ""),  # reply cut off after the last item
    ]
)


@FUZZ
@given(
    st.lists(st.sampled_from([None, 0, 1, 2]), min_size=len(ITEMS), max_size=len(ITEMS)),
    st.lists(separators, min_size=len(ITEMS), max_size=len(ITEMS)),
    wrappers,
    st.permutations(range(len(ITEMS))),
)
def test_every_intact_item_is_salvaged_from_a_mutated_reply(
    damage: list[int | None], joins: list[str], wrapper: tuple[str, str], order: list[int]
) -> None:
    pieces = []
    for position, index in enumerate(order):
        text = json.dumps(ITEMS[index])
        how = damage[position]
        pieces.append((text if how is None else _corrupt(text, how)) + joins[position])
    reply = wrapper[0] + "".join(pieces) + wrapper[1]
    parsed = parse_reply(reply, IDS)
    for position, index in enumerate(order):
        if damage[position] is None:
            salvaged = parsed.items[IDS[index]]
            assert salvaged == GeneratedItem.model_validate(ITEMS[index])
