"""Numerical grounding checks: the numbers in an example's reasoning match its fields.

Required steps: the capacity X, the ceiling min(maximum, X + offset) and the gap between what is
needed and what is given (support_needed - support_provided) each appear in the reasoning, and a
number written right after "capacity", "ceiling" (or "at most", "up to"), "gap", "need(s)" or
"gives" ("offers", "provides") equals its field; so do both of two numbers written together
("they need 6.5 and 7.5": a field has one value). Without required steps (the default), such a
stated number must still not contradict its field by more than `stated_tolerance`, and an amount
stated as given must never be above the ceiling.
"""

from __future__ import annotations

import re

from spectrumgen.schemas.example import GeneratedItem
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.schemas.spec import Spec

NUMBER = r"(\d+(?:\.\d+)?)"
# A second number straight after the first ("need 6.5 and 7.5", "9.1 or 10.8", "5.1 to 5.5"): a
# quantity stated twice, each checked (a field has one value).
THEN_NUMBER = rf"(?:\s*(?:support\s*)?(?:and|or|to|-|\u2013)\s*{NUMBER})?"
TOLERANCE = 0.051  # numbers are written to one decimal


def _labelled(words: str, gap: int, unless: str = "") -> re.Pattern[str]:
    return re.compile(rf"\b(?:{words})\b{unless}\D{{0,{gap}}}?{NUMBER}{THEN_NUMBER}", re.IGNORECASE)


LABELLED = {
    "capacity": _labelled("capacity", 15),
    "ceiling": _labelled("ceiling|at most|up to", 15),
    "gap": _labelled("gap", 15),
    "need": _labelled("needs?|needed|needing", 12),
    # "could give up to 7" states the ceiling, not what is given.
    "support given": _labelled(
        "gives?|giving|offers?|offering|provides?|providing", 12, r"(?!\s+(?:up to|at most))"
    ),
}
STEPS = ("capacity", "ceiling", "gap")  # what require_calculation_steps asks the reasoning to state


def grounding_problems(spec: Spec, scenario: Scenario, item: GeneratedItem) -> list[str]:
    """Every way the example's words disagree with its numbers (empty when grounded)."""
    grounding = spec.numerical_grounding
    problems: list[str] = []
    expected = {
        "capacity": scenario.effective_capacity,
        "ceiling": scenario.support_ceiling,
        "gap": round(abs(scenario.support_needed - item.support_provided), 1),
        "need": scenario.support_needed,
        "support given": item.support_provided,
    }
    strict = grounding.require_calculation_steps
    if strict:
        numbers = [float(n) for n in re.findall(NUMBER, item.reasoning)]
        for name in STEPS:
            value = expected[name]
            if not any(abs(n - value) <= TOLERANCE for n in numbers):
                problems.append(f"reasoning does not state the {name} ({value:g})")
    if strict or grounding.check_stated_numbers:
        tolerance = TOLERANCE if strict else grounding.stated_tolerance + 1e-9
        for name, value in expected.items():
            for match in LABELLED[name].finditer(item.reasoning):
                for stated in (float(n) for n in match.groups() if n is not None):
                    if abs(stated - value) <= tolerance:
                        problem = _over_the_ceiling(name, stated, scenario.support_ceiling)
                    else:
                        problem = f"reasoning says {name} {stated:g}, the fields give {value:g}"
                    if problem and problem not in problems:
                        problems.append(problem)
    if grounding.require_qualitative_anchors:
        words = grounding.anchors.get(scenario.capacity_level, [])
        text = f"{item.reasoning} {item.response}".lower()
        if not any(word.lower() in text for word in words):
            problems.append(
                f"no qualitative anchor for {scenario.capacity_level} capacity "
                f"(one of: {', '.join(words)})"
            )
    return problems


def _over_the_ceiling(name: str, stated: float, ceiling: float) -> str:
    """A stated amount given above the ceiling, however close to the field: "gives all 10.4"
    with a ceiling of 10 is a character giving more than it can (empty when it is not)."""
    if name != "support given" or stated <= ceiling + TOLERANCE:
        return ""
    return f"reasoning says it gives {stated:g}, above the ceiling of {ceiling:g}"


def grounding_rule(spec: Spec, levels: set[str]) -> str:
    """The prompt's extra rule when grounding is on (empty when off)."""
    grounding = spec.numerical_grounding
    parts = []
    if grounding.require_calculation_steps:
        parts.append(
            '"reasoning" states the calculation with its numbers: "capacity X", "at most C" '
            '(the ceiling), "needs N", "gives G", "a gap of N-G"'
        )
    if grounding.require_qualitative_anchors:
        anchors = "; ".join(
            f"{level}: {', '.join(grounding.anchors.get(level, []))}" for level in sorted(levels)
        )
        parts.append(f"name how the character feels with one of these words ({anchors})")
    return ("\n6. " + "; ".join(parts) + ".") if parts else ""
