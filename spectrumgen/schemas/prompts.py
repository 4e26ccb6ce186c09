"""The batch prompt: shared rules stated once, then one JSON line per scenario.

The shared part (the system message) stays under 300 tokens for the built-in spec; a test pins it.
The user message may first show a few of the spec's exemplars (finished examples of other
scenarios) for form. A base model, which continues text rather than following instructions, gets
one document instead: the exemplars as a scenario list and its answer, then the batch's scenarios.
"""

from __future__ import annotations

import hashlib
import json

from spectrumgen.grounding import grounding_rule
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.schemas.spec import Exemplar, Spec

SCENARIO_MARKER = "SCENARIOS (one JSON object per line):"

SYSTEM_TEMPLATE = """You write training examples about {character}.
Rules:
1. Capacity X allows at most min({maximum:g}, X+{offset:g}) support: support_provided never exceeds the scenario's "ceiling".
2. Authenticity targets: {targets}. authenticity_score stays inside "score_range".
3. Complexity types: {types}.
4. "context": the concrete situation, who asks for what and why now, from its hints if given. "response": what the character says or does, in their voice. "reasoning" (third person): capacity, ceiling, what is given, gap to "support_needed".
5. Each example is specific to its scenario; no shared phrasing.
Reply with JSON only: {{"examples": [{{"scenario_id", "context", "response", "reasoning", "support_provided", "authenticity_score"}}]}}, one item per scenario, ids as given."""

SITUATION_TEMPLATE = """You write situations for training examples about {character}.
For each scenario write "context": the concrete situation, who asks the character for what and why now, so that the support they need matches "support_needed" (0-10) and the character's state matches "capacity" (0-10). Authenticity targets: {targets}. Complexity types: {types}.
Each situation is specific to its scenario; no shared phrasing. Do not write the character's response.
Reply with JSON only: {{"situations": [{{"scenario_id", "context"}}]}}, one item per scenario, ids as given."""

RESPONSE_RULE = """
The situations are written already ("situation" in each scenario): write "response", "reasoning", "support_provided" and "authenticity_score" for them; leave out "context"."""

USER_TEMPLATE = """Write {count} examples.
{exemplars}{marker}
{lines}"""

DOCUMENT_CUE = "Examples:\n"  # a completion document ends here; the model writes the JSON
EXEMPLARS_HEADER = (
    "FINISHED EXAMPLES of other scenarios, for form only (never reuse their wording):"
)

DOCUMENT_HEADER = """Training examples about {character}. Rules: support_provided never exceeds "ceiling"; authenticity_score stays inside "score_range"; "context" is who asks the character for what and why now; "response" is what the character says or does, in their own voice; "reasoning" is about the character (no "I" or "you"): capacity, ceiling, what it gives, the gap to "support_needed", and why. Every example is written fresh for its scenario."""


def system_prompt(spec: Spec, scenarios: list[Scenario], stage: str = "full") -> str:
    """The shared rules, naming only the targets and types this batch uses.

    Two-stage mode: stage "situation" asks for the situations only; stage "response" gives them.
    """
    used_targets = {s.authenticity_target for s in scenarios}
    used_types = {s.complexity_type for s in scenarios}
    targets = " | ".join(
        f"{t.name}: {t.description}"
        for t in spec.axes.authenticity_target
        if t.name in used_targets
    )
    types = " | ".join(
        f"{c.name}: {c.description}" for c in spec.axes.complexity_type if c.name in used_types
    )
    if stage == "situation":
        return SITUATION_TEMPLATE.format(
            character=spec.character.strip(), targets=targets, types=types
        )
    prompt = SYSTEM_TEMPLATE.format(
        character=spec.character.strip(),
        maximum=spec.support_rule.maximum,
        offset=spec.support_rule.capacity_offset,
        targets=targets,
        types=types,
    )
    rule = grounding_rule(spec, {s.capacity_level for s in scenarios})
    if rule:  # before the reply format line, as rule 6
        head, _, reply_format = prompt.rpartition("\nReply with JSON only")
        prompt = f"{head}{rule}\nReply with JSON only{reply_format}"
    return prompt + RESPONSE_RULE if stage == "response" else prompt


def scenario_line(scenario: Scenario) -> str:
    """One scenario as the model sees it; a repair carries what was wrong last time."""
    fields: dict[str, object] = {
        "id": scenario.scenario_id,
        "capacity": scenario.capacity_level,
        "effective_capacity": scenario.effective_capacity,
        "ceiling": scenario.support_ceiling,
        "support_needed": scenario.support_needed,
        "target": scenario.authenticity_target,
        "score_range": [scenario.authenticity_low, scenario.authenticity_high],
        "suggested_score": scenario.authenticity_score,
        "type": scenario.complexity_type,
        "attempt": scenario.attempt,
        **scenario.hints,
    }
    if scenario.situation:
        fields["situation"] = scenario.situation
    if scenario.feedback:
        fields["fix"] = "; ".join(scenario.feedback)
    return json.dumps(fields, ensure_ascii=False)


def user_prompt(scenarios: list[Scenario], exemplars: list[Exemplar] | None = None) -> str:
    """The per-batch part: exemplars for form (if any), then the scenarios, one JSON per line."""
    shown = ""
    if exemplars:
        pairs = [
            json.dumps({"scenario": _exemplar_scenario(e), "example": _exemplar_item(e)})
            for e in exemplars
        ]
        shown = EXEMPLARS_HEADER + "\n" + "\n".join(pairs) + "\n"
    return USER_TEMPLATE.format(
        count=len(scenarios),
        exemplars=shown,
        marker=SCENARIO_MARKER,
        lines="\n".join(scenario_line(s) for s in scenarios),
    )


def completion_document(spec: Spec, scenarios: list[Scenario], exemplars: list[Exemplar]) -> str:
    """The whole prompt for a base model: a document it continues with the batch's JSON.

    The exemplars come first in exactly the form the answer takes (a scenario list, then
    `{"examples": [...]}`), so continuing the pattern is the natural next text. Repair feedback
    is left out (the attempt number still changes the prompt).
    """
    parts = [DOCUMENT_HEADER.format(character=spec.character.strip())]
    if exemplars:
        lines = [
            json.dumps({"id": f"e{i + 1}", **_exemplar_scenario(e)})
            for i, e in enumerate(exemplars)
        ]
        items = [{"scenario_id": f"e{i + 1}", **_exemplar_item(e)} for i, e in enumerate(exemplars)]
        answer = json.dumps({"examples": items}, ensure_ascii=False)
        parts.append("Scenarios:\n" + "\n".join(lines) + "\nExamples:\n" + answer)
    # No "fix": a base model does not act on feedback, it copies it into its text.
    batch = "\n".join(scenario_line(s.model_copy(update={"feedback": []})) for s in scenarios)
    parts.append(f"Scenarios:\n{batch}\n{DOCUMENT_CUE}")
    return "\n\n".join(parts)


def pick_exemplars(spec: Spec, scenarios: list[Scenario], count: int, key: str) -> list[Exemplar]:
    """Up to `count` exemplars least like the batch (fewest shared types, targets and levels).

    Ties are broken by a hash of `key` (the batch id), so a batch always sees the same ones and
    different batches see different ones.
    """
    if count <= 0 or not spec.exemplars:
        return []
    used = [
        {s.complexity_type for s in scenarios},
        {s.authenticity_target for s in scenarios},
        {s.capacity_level for s in scenarios},
    ]

    def overlap(indexed: tuple[int, Exemplar]) -> tuple[int, int, str]:
        index, exemplar = indexed
        shared = (
            exemplar.complexity_type in used[0],
            exemplar.authenticity_target in used[1],
            exemplar.capacity_level in used[2],
        )
        tie = hashlib.sha256(f"{key}|{index}".encode()).hexdigest()
        return (shared[0] * 2 + shared[1], shared[2], tie)

    ranked = sorted(enumerate(spec.exemplars), key=overlap)
    return [exemplar for _, exemplar in ranked[:count]]


def _exemplar_scenario(exemplar: Exemplar) -> dict[str, object]:
    return {
        "capacity": exemplar.capacity_level,
        "effective_capacity": exemplar.effective_capacity,
        "support_needed": exemplar.support_needed,
        "target": exemplar.authenticity_target,
        "type": exemplar.complexity_type,
        **exemplar.hints,
    }


def _exemplar_item(exemplar: Exemplar) -> dict[str, object]:
    return {
        "context": exemplar.context.strip(),
        "response": exemplar.response.strip(),
        "reasoning": exemplar.reasoning.strip(),
        "support_provided": exemplar.support_provided,
        "authenticity_score": exemplar.authenticity_score,
    }


def read_scenario_lines(prompt: str, marker: str = SCENARIO_MARKER) -> list[dict[str, object]]:
    """The scenario objects listed in a user prompt (the scripted backend reads them back)."""
    _, _, tail = prompt.partition(marker)
    found = []
    for line in tail.splitlines():
        line = line.strip()
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


JUDGE_MARKER = "EXAMPLES TO SCORE (one JSON object per line):"

JUDGE_SYSTEM = """You judge training examples about {character}.
For each example:
- "fit", 0 to 1: how clearly the response shows its complexity type (1 = unmistakably, 0 = not at all).
- "authenticity", 0 to 1: your own estimate of how authentic the response is, on this scale: {scale}.
- "problem": "incoherent" (not sensible text), "off_topic" (context is not someone asking the character for something, or the response is not the character's words or acts), "copied" (a field repeats another), "wrong_type", "implausible", or "none".
Reply with JSON only: {{"scores": [{{"scenario_id", "fit", "authenticity", "problem", "why"}}]}}, one per example, ids as given; "why" is one short sentence."""


def judge_prompts(spec: Spec, pairs: list[tuple[Scenario, dict[str, object]]]) -> tuple[str, str]:
    """The judge's system and user prompts for accepted items of one batch.

    The rubric comes from the spec: each complexity type's `rubric` (or description), and the
    authenticity scale from every target's range and rubric. The judge is not told the example's
    target or score, so its authenticity estimate is its own (the manifest reports calibration).
    """
    scale = "; ".join(
        f"{t.range.low:g}-{t.range.high:g} {t.name}: {t.rubric or t.description}"
        for t in spec.axes.authenticity_target
    )
    lines = []
    for scenario, item in pairs:
        complexity = spec.complexity(scenario.complexity_type)
        fields = {
            "id": scenario.scenario_id,
            "type": f"{complexity.name}: {complexity.rubric or complexity.description}",
            "capacity": scenario.effective_capacity,
            "support_needed": scenario.support_needed,
            "support_provided": item.get("support_provided"),
            "context": item.get("context"),
            "response": item.get("response"),
            "reasoning": item.get("reasoning"),
            "attempt": scenario.attempt,
        }
        lines.append(json.dumps(fields, ensure_ascii=False))
    system = JUDGE_SYSTEM.format(character=spec.character.strip(), scale=scale)
    user = f"Judge {len(lines)} examples.\n{JUDGE_MARKER}\n" + "\n".join(lines)
    return system, user


def read_judge_lines(prompt: str) -> list[dict[str, object]]:
    """The example objects listed in a judge prompt (the scripted backend reads them back)."""
    return read_scenario_lines(prompt, JUDGE_MARKER)
