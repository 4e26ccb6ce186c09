"""The batch prompt: shared rules stated once, then one JSON line per scenario.

The shared part (the system message) stays under 300 tokens for the built-in spec; a test pins it.
"""

from __future__ import annotations

import json

from spectrumgen.grounding import grounding_rule
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.schemas.spec import Spec

SCENARIO_MARKER = "SCENARIOS (one JSON object per line):"

SYSTEM_TEMPLATE = """You write training examples about {character}.
Rules:
1. Capacity X allows at most min({maximum:g}, X+{offset:g}) support: support_provided never exceeds the scenario's "ceiling".
2. Authenticity targets: {targets}. authenticity_score stays inside "score_range".
3. Complexity types: {types}.
4. "context": the concrete situation, who asks for what and why now. "response": what the character says or does, in their voice. "reasoning": capacity, ceiling, gap to "support_needed", and why.
5. Each example is specific to its scenario; no shared phrasing.
Reply with JSON only: {{"examples": [{{"scenario_id", "context", "response", "reasoning", "support_provided", "authenticity_score"}}]}}, one item per scenario, ids as given."""

SITUATION_TEMPLATE = """You write situations for training examples about {character}.
For each scenario write "context": the concrete situation, who asks the character for what and why now, so that the support they need matches "support_needed" (0-10) and the character's state matches "capacity" (0-10). Authenticity targets: {targets}. Complexity types: {types}.
Each situation is specific to its scenario; no shared phrasing. Do not write the character's response.
Reply with JSON only: {{"situations": [{{"scenario_id", "context"}}]}}, one item per scenario, ids as given."""

RESPONSE_RULE = """
The situations are written already ("situation" in each scenario): write "response", "reasoning", "support_provided" and "authenticity_score" for them; leave out "context"."""

USER_TEMPLATE = """Write {count} examples.
{marker}
{lines}"""


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
    }
    if scenario.situation:
        fields["situation"] = scenario.situation
    if scenario.feedback:
        fields["fix"] = "; ".join(scenario.feedback)
    return json.dumps(fields, ensure_ascii=False)


def user_prompt(scenarios: list[Scenario]) -> str:
    """The per-batch part: the scenarios, one JSON object per line."""
    return USER_TEMPLATE.format(
        count=len(scenarios),
        marker=SCENARIO_MARKER,
        lines="\n".join(scenario_line(s) for s in scenarios),
    )


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
For each example, score "fit" from 0 to 1: does the response show its complexity type and land at its authenticity target? 1 = clearly both, 0.5 = one of them, 0 = neither.
Reply with JSON only: {{"scores": [{{"scenario_id", "fit", "why"}}]}}, one per example, ids as given; "why" is one short sentence."""


def judge_prompts(spec: Spec, pairs: list[tuple[Scenario, dict[str, object]]]) -> tuple[str, str]:
    """The judge's system and user prompts for accepted items of one batch."""
    lines = []
    for scenario, item in pairs:
        complexity = spec.complexity(scenario.complexity_type)
        target = spec.authenticity(scenario.authenticity_target)
        fields = {
            "id": scenario.scenario_id,
            "type": f"{complexity.name}: {complexity.description}",
            "target": f"{target.name}: {target.description}",
            "capacity": scenario.effective_capacity,
            "support_needed": scenario.support_needed,
            "support_provided": item.get("support_provided"),
            "context": item.get("context"),
            "response": item.get("response"),
            "attempt": scenario.attempt,
        }
        lines.append(json.dumps(fields, ensure_ascii=False))
    system = JUDGE_SYSTEM.format(character=spec.character.strip())
    user = f"Score {len(lines)} examples.\n{JUDGE_MARKER}\n" + "\n".join(lines)
    return system, user


def read_judge_lines(prompt: str) -> list[dict[str, object]]:
    """The example objects listed in a judge prompt (the scripted backend reads them back)."""
    return read_scenario_lines(prompt, JUDGE_MARKER)
