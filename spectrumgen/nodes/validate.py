"""validate: check every example against the spec's rules and the run's quotas.

Per example: support within the shared ceiling, authenticity score inside its target's range,
texts long enough, not placeholders and passing the text-quality gates (no degenerate, copied or
off-topic text: `spectrumgen.text_gates`), the response no near-duplicate of one already accepted
in the run, no field copying a spec exemplar (near-identical, or sharing a clause) and, where the
writing model can score text (embedded), a response that answers its own context
(`spectrumgen.coherence`). Per run: an example is only accepted while each of its buckets is
under quota.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from langgraph.runtime import Runtime
from rapidfuzz import fuzz, process, utils

from spectrumgen.coherence import Scorer, check_coherence
from spectrumgen.graph.lanes import run_lanes
from spectrumgen.graph.state import GenerationState
from spectrumgen.grounding import grounding_problems
from spectrumgen.llm import backend_for
from spectrumgen.nodes.common import node_parts
from spectrumgen.quotas import allocate
from spectrumgen.schemas.batch import Outcome
from spectrumgen.schemas.example import TEXT_FIELDS, GeneratedItem
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.schemas.spec import AXIS_NAMES, Spec
from spectrumgen.text_gates import (
    copied_fields,
    cue_pattern,
    field_problems,
    may_copy_any,
    shared_run,
    similarity,
)

# A run of this many words shared with an exemplar is a copied clause, whatever the rest says.
EXEMPLAR_RUN_WORDS = 6


def validate(state: GenerationState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Accept or reject each parsed item, with every reason it failed."""
    parts = node_parts(runtime, state)
    spec, ledger, run_id = parts.spec, parts.ledger, state["run_id"]
    quota = allocate(spec, int(state["target"]))
    shared = run_lanes(parts.context.db_url, run_id, parts.context.concurrency)

    def load(since: datetime | None) -> tuple[dict[str, str], datetime | None]:
        """What the run accepted since the last look (and its standing, the first time)."""
        with ledger.sessions.snapshot() as view:
            if shared.standing is None:
                shared.note_standing(ledger.standing(spec, run_id, view))
            return ledger.accepted_responses(run_id, since, view)

    outcomes = [Outcome.model_validate(o) for o in state.get("outcomes", [])]

    scorers: dict[str | None, Scorer | None] = {}

    def scorer(outcome: Outcome) -> Scorer | None:  # the writing model, if it scores text
        if outcome.model not in scorers:
            scorers[outcome.model] = backend_for(parts.context, outcome.model).scorer
        return scorers[outcome.model]

    for outcome in outcomes:
        if outcome.situation is not None:  # two-stage mode, stage 1: the situation alone
            outcome.reasons += check_text(spec, "context", outcome.situation)
            outcome.accepted = not outcome.reasons
            continue
        if outcome.item is None:
            continue
        outcome.reasons += check_example(spec, outcome.scenario, outcome.item)
        if not outcome.reasons:
            outcome.reasons += copies_an_exemplar(spec, outcome.item, outcome.scenario)
        scores_text = scorer(outcome)
        if not outcome.reasons and scores_text is not None:
            outcome.reasons += check_coherence(
                spec,
                scores_text,
                outcome.item.context,
                outcome.item.response,
                outcome.scenario.hints.get("asks"),
            )
        outcome.accepted = not outcome.reasons

    # The last word, one lane at a time: no near-duplicate of a response the run accepted (in
    # any lane or worker, or earlier in this batch); every bucket still under quota, as the
    # lanes last planned or recorded it (a worker's batch recorded since is caught by record,
    # which counts again under the run's lock).
    cutoff = spec.example_rules.near_duplicate_similarity
    with shared.accepted_responses(load, cutoff) as responses:
        assert shared.standing is not None
        filled = {axis: dict(counts) for axis, counts in shared.standing.counts.items()}
        for outcome in outcomes:
            if not outcome.accepted or outcome.item is None:
                continue
            match = responses.closest(outcome.item.response)
            if match is not None:
                outcome.reasons.append(duplicate_reason(*match))
            else:
                outcome.reasons += _quota_full(outcome.scenario, quota, filled)
                outcome.retryable = not outcome.reasons
            outcome.accepted = not outcome.reasons
            if outcome.accepted:
                responses.add(outcome.scenario.scenario_id, outcome.item.response)
                for axis, bucket in zip(AXIS_NAMES, outcome.scenario.key(), strict=True):
                    filled[axis][bucket] += 1

    accepted = sum(o.accepted for o in outcomes)
    parts.emit(
        {
            "event": "validated",
            "lane": state.get("lane", 0),
            "wave": state.get("wave"),
            "accepted": accepted,
            "rejected": [
                {"scenario_id": o.scenario.scenario_id, "reasons": o.reasons}
                for o in outcomes
                if not o.accepted
            ],
        }
    )
    return {"outcomes": [o.model_dump() for o in outcomes]}


def check_example(spec: Spec, scenario: Scenario, item: GeneratedItem) -> list[str]:
    """Every per-example rule the item breaks (empty when it passes)."""
    reasons = []
    ceiling = scenario.support_ceiling
    if not 0 <= item.support_provided <= ceiling + 1e-9:
        reasons.append(
            f"support_provided {item.support_provided:g} is outside 0-{ceiling:g} (a character at "
            f"capacity {scenario.effective_capacity:g} gives at most "
            f"min({spec.support_rule.maximum:g}, capacity + {spec.support_rule.capacity_offset:g}))"
        )
    low, high = scenario.authenticity_low, scenario.authenticity_high
    if not low - 1e-9 <= item.authenticity_score <= high + 1e-9:
        reasons.append(
            f"authenticity_score {item.authenticity_score:g} is outside "
            f"{scenario.authenticity_target}'s range {low:g}-{high:g}"
        )
    for name in TEXT_FIELDS:
        reasons += check_text(spec, name, getattr(item, name))
    reasons += copied_fields(
        spec.example_rules.text_quality, {name: getattr(item, name) for name in TEXT_FIELDS}
    )
    if spec.numerical_grounding.enabled:
        reasons += grounding_problems(spec, scenario, item)
    return reasons


def check_text(spec: Spec, name: str, text: str) -> list[str]:
    """Why a text field fails the spec's rules: empty, a placeholder, too short, or degenerate or
    off-topic text (the text-quality gates)."""
    rules = spec.example_rules
    text = text.strip()
    if is_placeholder(text, rules.placeholder_patterns):
        return [f"{name} is empty or a placeholder ({text[:30]!r})"]
    if len(text) < rules.min_text_chars:
        return [f"{name} is too short ({len(text)} < {rules.min_text_chars} characters)"]
    return field_problems(rules.text_quality, name, text)


def copies_an_exemplar(
    spec: Spec, item: GeneratedItem, scenario: Scenario | None = None
) -> list[str]:
    """A reason for each text field that copies a spec exemplar: near-identical, sharing a
    clause (a run of `EXEMPLAR_RUN_WORDS` words; the reasoning is checked for clauses only), or
    naming an exemplar's person whom the scenario's hints do not name ("Tobias needs 6.5")."""
    reasons = []
    cutoff = spec.example_rules.near_duplicate_similarity
    hinted = " ".join(scenario.hints.values()) if scenario is not None else ""
    people = exemplar_names(spec)
    borrowed = [(i, person) for i, person in people if person not in hinted]
    alternatives = "|".join(re.escape(person) for _, person in people)
    named = cue_pattern(rf"\b(?:{alternatives})\b") if people else None  # all, in one pass
    for name in ("response", "context", "reasoning"):
        text = getattr(item, name)
        found = {hit.lower() for hit in named.findall(text)} if named and borrowed else set()
        for index, person in borrowed:
            if person.lower() in found:
                reasons.append(
                    f"{name} is a near-duplicate of exemplar {index + 1} (it names that "
                    f"exemplar's {person!r}, who is not in this scenario)"
                )
                break
        else:
            reasons += _copied_clause(spec, name, text, cutoff)
    return reasons


def exemplar_names(spec: Spec) -> list[tuple[int, str]]:
    """The first names of the spec's exemplars' people ("Odile, a colleague..." gives Odile)."""
    return list(_first_names(tuple(exemplar.hints.get("who", "") for exemplar in spec.exemplars)))


@lru_cache(maxsize=64)
def _first_names(whos: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    found = []
    for index, who in enumerate(whos):
        first = who.split(",")[0].split()
        if len(first) == 1 and first[0][:1].isupper():
            found.append((index, first[0]))
    return tuple(found)


def _copied_clause(spec: Spec, name: str, text: str, cutoff: float) -> list[str]:
    """The first exemplar the field copies whole or by a clause, as a reason."""
    theirs_all = tuple(getattr(exemplar, name) for exemplar in spec.exemplars)
    if not may_copy_any(text, theirs_all, EXEMPLAR_RUN_WORDS, cutoff, name != "reasoning"):
        return []  # most fields: no exemplar comes near, found without checking each one
    for index, exemplar in enumerate(spec.exemplars):
        theirs = getattr(exemplar, name)
        # a copy with a sentence added too; a reasoning is checked for clauses only
        score = 0.0 if name == "reasoning" else similarity(text, theirs, cutoff)
        if score >= cutoff:
            return [f"{name} is a near-duplicate of exemplar {index + 1} (similarity {score:.0f})"]
        run = shared_run(text, theirs, EXEMPLAR_RUN_WORDS)
        if run:
            return [f"{name} is a near-duplicate of exemplar {index + 1} ({run!r})"]
    return []


def is_placeholder(text: str, patterns: list[str]) -> bool:
    """True for empty text, one repeated character, or a spec placeholder pattern."""
    if not text or len(set(text.lower())) <= 2:
        return True
    return any(cue_pattern(p).search(text) for p in patterns)


def near_duplicate(response: str, accepted: dict[str, str], spec: Spec) -> str | None:
    """A reason when the response is too similar to one of `accepted` (scenario id to response),
    else None. A run keeps its accepted responses in a `NearDuplicates`, which gives the same
    verdicts and stays fast over a long run."""
    match = process.extractOne(
        response,
        accepted,
        scorer=fuzz.ratio,
        processor=utils.default_process,
        score_cutoff=spec.example_rules.near_duplicate_similarity,
    )
    return None if match is None else duplicate_reason(match[2], match[1])


def duplicate_reason(scenario_id: str, score: float) -> str:
    """Why a response was rejected as a near-duplicate of an accepted one."""
    return f"response is a near-duplicate of scenario {scenario_id} (similarity {score:.0f})"


def _quota_full(
    scenario: Scenario, quota: dict[str, dict[str, int]], filled: dict[str, dict[str, int]]
) -> list[str]:
    return [
        f"quota for {axis}={bucket} is already met ({filled[axis][bucket]}/{quota[axis][bucket]})"
        for axis, bucket in zip(AXIS_NAMES, scenario.key(), strict=True)
        if filled[axis][bucket] >= quota[axis][bucket]
    ]
