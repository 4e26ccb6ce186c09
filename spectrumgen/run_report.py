"""How a run's attempts fared: acceptance per attempt, rejections by reason, the judge's record.

Read from the ledger's examples and rejections, so a run, a resumed run and a worker all report
the same figures. Used by the manifest and the CLI's summary.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from spectrumgen.reasons import count_reasons, reason_code

TOP_REASONS = 3


def acceptance_by_attempt(
    examples: Sequence[Mapping[str, Any]], rejections: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per attempt number (1 = first try, 2 = first repair...): tried, accepted, rate."""
    accepted = Counter(int(e["attempt"]) for e in examples)
    tried = accepted + Counter(int(r["attempt"]) for r in rejections)
    return [
        {
            "attempt": attempt,
            "tried": tried[attempt],
            "accepted": accepted[attempt],
            "rate": round(accepted[attempt] / tried[attempt], 3),
        }
        for attempt in sorted(tried)
    ]


def rejection_summary(rejections: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Rejected attempts counted by reason code, and the top few with one example reason each."""
    by_reason = count_reasons(r["reasons"] for r in rejections)
    sample: dict[str, str] = {}
    for rejection in rejections:
        for reason in rejection["reasons"]:
            sample.setdefault(reason_code(reason), reason)
    return {
        "by_reason": by_reason,
        "top": [
            {"reason": code, "count": count, "example": sample[code][:200]}
            for code, count in list(by_reason.items())[:TOP_REASONS]
        ],
    }


def judge_summary(
    examples: Sequence[Mapping[str, Any]], rejections: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """What the judge did: how many it judged and rejected (by problem), and its calibration.

    Calibration compares the writer's authenticity_score with the judge's blind estimate over
    every judged example, kept or rejected: mean absolute difference and Pearson correlation.
    None when nothing was judged.
    """
    judged = [(float(e["authenticity_score"]), e.get("judge_authenticity")) for e in examples]
    judged += [
        (float(r["item"]["authenticity_score"]), r.get("judge_authenticity"))
        for r in rejections
        if r.get("judge_fit") is not None and r.get("item")
    ]
    pairs = [(writer, float(judge)) for writer, judge in judged if judge is not None]
    fits = [e["judge_fit"] for e in examples if e.get("judge_fit") is not None]
    rejected: Counter[str] = Counter()
    for rejection in rejections:
        for reason in rejection["reasons"]:
            if reason_code(reason) == "judge":
                rejected[reason.split(":")[1].strip() if reason.count(":") > 1 else "low_fit"] += 1
    if not fits and not rejected and not pairs:
        return None
    writer, judge = [p[0] for p in pairs], [p[1] for p in pairs]
    correlation = None
    if len(pairs) >= 3 and len(set(writer)) > 1 and len(set(judge)) > 1:
        correlation = round(statistics.correlation(writer, judge), 3)
    return {
        "judged": len(fits) + sum(rejected.values()),
        "kept": len(fits),
        "rejected": sum(rejected.values()),
        "rejected_by_problem": dict(rejected.most_common()),
        "calibration": {
            "pairs": len(pairs),
            "mean_abs_diff": (
                round(statistics.fmean(abs(w - j) for w, j in pairs), 3) if pairs else None
            ),
            "correlation": correlation,
        },
    }
