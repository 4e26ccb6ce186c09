"""parse: turn each raw reply into items matched to their scenarios by id.

`parse_reply` salvages every item that is valid on its own from a partly broken reply: think
tags, code fences and trailing junk are ignored, every JSON object that carries a `scenario_id`
is read wherever it stands, and json-repair fills in what strict decoding could not reach.
It never raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import json_repair
from pydantic import BaseModel, ValidationError

from spectrumgen.graph.state import GenerationState
from spectrumgen.schemas.batch import SITUATION, Outcome, RawReply, SituationItem
from spectrumgen.schemas.example import GeneratedItem

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z]*")
_DECODER = json.JSONDecoder()


Item = TypeVar("Item", bound=BaseModel)


@dataclass
class ParsedItems(Generic[Item]):
    """What could be read from one reply."""

    items: dict[str, Item] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


ParsedReply = ParsedItems[GeneratedItem]


def parse_reply(
    text: str, expected_ids: Iterable[str], given: Mapping[str, Mapping[str, Any]] | None = None
) -> ParsedReply:
    """Read every valid item for the expected scenario ids out of a model's reply.

    `given` fills fields the model was not asked to write (two-stage mode: the situation).
    """
    return parse_items(text, expected_ids, GeneratedItem, given)


def parse_items(
    text: str,
    expected_ids: Iterable[str],
    model: type[Item],
    given: Mapping[str, Mapping[str, Any]] | None = None,
) -> ParsedItems[Item]:
    """Read every valid `model` item for the expected scenario ids out of a reply."""
    expected = set(expected_ids)
    parsed: ParsedItems[Item] = ParsedItems()
    found = objects_with_ids(text, expected)
    for obj in found:
        scenario_id = str(obj.get("scenario_id"))
        if scenario_id not in expected:
            parsed.notes.append(f"item for unknown scenario id {scenario_id!r} ignored")
            continue
        if scenario_id in parsed.items:
            continue
        try:
            filled = {**obj, **(given or {}).get(scenario_id, {})}  # given text wins
            parsed.items[scenario_id] = model.model_validate(filled)
            parsed.invalid.pop(scenario_id, None)
        except ValidationError as error:
            parsed.invalid.setdefault(scenario_id, _first_error(error))
    if not found:
        parsed.notes.append("no JSON item found in the reply")
    return parsed


def objects_with_ids(text: str, expected: set[str]) -> list[dict[str, Any]]:
    """Every JSON object with a `scenario_id` in a reply; json-repair is asked only when strict
    decoding missed an expected id."""
    cleaned = _FENCE.sub("", _THINK.sub("", text))
    found = list(_objects_with_id(_scan_objects(cleaned)))
    if not expected.issubset({str(obj.get("scenario_id")) for obj in found}):
        found += _objects_with_id(_repaired(cleaned))
    return found


def parse(state: GenerationState) -> dict[str, Any]:
    """Match each batch's reply items to its scenarios; a missing or broken item is a failure."""
    outcomes: list[Outcome] = []
    for raw in state.get("replies", []):
        reply = RawReply.model_validate(raw)
        ids = [s.scenario_id for s in reply.scenarios]
        given = {s.scenario_id: {"context": s.situation} for s in reply.scenarios if s.situation}
        parsed: ParsedItems[Any] = ParsedItems()
        if reply.error is None:
            model = SituationItem if reply.stage == SITUATION else GeneratedItem
            parsed = parse_items(reply.text, ids, model, given)
        for scenario in reply.scenarios:
            outcome = Outcome(
                batch_id=reply.batch_id,
                scenario=scenario,
                model=reply.model,
                backend=reply.backend,
                stage=reply.stage,
            )
            item = parsed.items.get(scenario.scenario_id)
            if isinstance(item, SituationItem):
                outcome.situation = item.context
            elif item is not None:
                outcome.item = item
            elif reply.error is not None:
                outcome.reasons.append(f"LLM call failed: {reply.error}")
            elif reply.truncated:
                why = parsed.invalid.get(scenario.scenario_id, "missing")
                outcome.reasons.append(f"the reply was cut off at its token limit ({why})")
            elif scenario.scenario_id in parsed.invalid:
                outcome.reasons.append(f"item invalid: {parsed.invalid[scenario.scenario_id]}")
            else:
                outcome.reasons.append("missing from the reply")
            outcomes.append(outcome)
    return {"outcomes": [o.model_dump() for o in outcomes]}


def _scan_objects(text: str) -> Iterator[Any]:
    """Every JSON value that strictly decodes from some '{' of the text, outermost first."""
    start = text.find("{")
    while start != -1:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            pass
        else:
            yield value
        start = text.find("{", start + 1)


def _repaired(text: str) -> list[Any]:
    start = min((i for i in (text.find("{"), text.find("[")) if i != -1), default=-1)
    if start == -1:
        return []
    try:
        return [json_repair.loads(text[start:])]
    except Exception:  # json-repair gives up on some inputs; nothing more to salvage then
        return []


def _objects_with_id(values: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Dicts with a scenario_id, found at any depth (an {"examples": [...]} wrapper included)."""
    stack = list(values)[::-1]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "scenario_id" in value:
                yield value
            else:
                stack.extend(list(value.values())[::-1])
        elif isinstance(value, list):
            stack.extend(value[::-1])


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "item"
    return f"{where}: {first['msg']}"
