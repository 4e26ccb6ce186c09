"""Why items fail, as short codes: what rejected.jsonl's reasons are counted by.

Text gates write `"<code>: <detail>"`; the other rules' reasons are recognised by how they start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from spectrumgen.text_gates import gate_of

# (what the reason starts with, its code), first match wins.
PREFIXES = (
    ("support_provided", "support_rule"),
    ("authenticity_score", "score_range"),
    ("response is a near-duplicate", "near_duplicate"),
    ("context is a near-duplicate", "near_duplicate"),
    ("reasoning is a near-duplicate", "near_duplicate"),
    ("quota for", "quota_full"),
    ("quota already met", "quota_full"),
    ("judge:", "judge"),
    ("judge ", "judge"),
    ("LLM call failed", "call_failed"),
    ("the reply was cut off", "truncated"),
    ("item invalid", "invalid_item"),
    ("missing from the reply", "missing"),
    ("reasoning does not state", "grounding"),
    ("reasoning says", "grounding"),
    ("rejected by", "reviewer"),
    ("incoherent:", "incoherent"),
)


def reason_code(reason: str) -> str:
    """The short code of one reason (e.g. "repetition", "support_rule", "near_duplicate")."""
    gate = gate_of(reason)
    if gate is not None:
        return gate
    for prefix, code in PREFIXES:
        if reason.startswith(prefix):
            return code
    if " is empty or a placeholder" in reason:
        return "placeholder"
    if " is too short" in reason:
        return "too_short"
    return "other"


def count_reasons(reason_lists: Iterable[Iterable[str]]) -> dict[str, int]:
    """How many rejected attempts each code took part in, most frequent first."""
    counts: Counter[str] = Counter()
    for reasons in reason_lists:
        counts.update({reason_code(r) for r in reasons})
    return dict(counts.most_common())
