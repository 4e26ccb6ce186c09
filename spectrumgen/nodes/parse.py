"""parse: turn each raw reply into items matched to their scenarios by id.

`parse_reply` salvages every item that is valid on its own from a partly broken reply: think
tags, code fences and trailing junk are ignored, every JSON object that carries a `scenario_id`
is read wherever it stands, and json-repair fills in what strict decoding could not reach.
It never raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import json_repair
from pydantic import ValidationError

from spectrumgen.graph.state import GenerationState
from spectrumgen.schemas.batch import Outcome, RawReply
from spectrumgen.schemas.example import GeneratedItem

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z]*")
_DECODER = json.JSONDecoder()


@dataclass
class ParsedReply:
    """What could be read from one reply."""

    items: dict[str, GeneratedItem] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def parse_reply(text: str, expected_ids: Iterable[str]) -> ParsedReply:
    """Read every valid item for the expected scenario ids out of a model's reply."""
    expected = set(expected_ids)
    parsed = ParsedReply()
    found = objects_with_ids(text, expected)
    for obj in found:
        scenario_id = str(obj.get("scenario_id"))
        if scenario_id not in expected:
            parsed.notes.append(f"item for unknown scenario id {scenario_id!r} ignored")
            continue
        if scenario_id in parsed.items:
            continue
        try:
            parsed.items[scenario_id] = GeneratedItem.model_validate(obj)
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
        parsed = parse_reply(reply.text, ids) if reply.error is None else ParsedReply()
        for scenario in reply.scenarios:
            outcome = Outcome(
                batch_id=reply.batch_id, scenario=scenario, model=reply.model, backend=reply.backend
            )
            item = parsed.items.get(scenario.scenario_id)
            if item is not None:
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
