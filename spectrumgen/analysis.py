"""The seed's reports: the coverage report from the ledger, and the quality analysis of a dataset.

Pattern diversity is 1 minus the mean pairwise similarity of the responses (rapidfuzz's
normalised Indel similarity, 0-1, on lower-cased text without punctuation): 0 when every
response is the same text, near 1 when no two share wording. Capacity balance compares each
capacity level's share with its frequency in the spec: balanced when none is off by more than
half its expected share, so a level missing altogether is never balanced.

Text figures, per field: the share of examples each text-quality gate would flag (0 for a run's
own output, which passed them; a dataset from elsewhere may not), distinct-2 (distinct word pairs
over all word pairs of the field, across examples: low when examples reuse phrasing), and the
mean number of words.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz, process, utils

from spectrumgen.ledger import Ledger
from spectrumgen.quotas import bucket_counts, evaluate
from spectrumgen.reasons import reason_code
from spectrumgen.schemas.example import TEXT_FIELDS, GeneratedItem
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.schemas.spec import Spec
from spectrumgen.text_gates import GATES, gate_of, item_problems, words

BALANCE_TOLERANCE = 0.5
DIVERSITY_SAMPLE = 400  # responses compared pairwise at most (cdist is quadratic)


def coverage_report(ledger: Ledger, spec: Spec, per_cell: int = 1) -> dict[str, Any]:
    """The seed's `get_coverage_report()`, from the ledger, across every run of a spec.

    `gaps_to_fill` lists every cell with fewer than `per_cell` examples, with how many it lacks.
    """
    counts = ledger.coverage_counts(spec.name)
    tracked = {cell: n for cell, n in counts.items() if n > 0}
    total = sum(tracked.values())
    cells = list(
        itertools.product(
            spec.bucket_names("capacity_level"),
            spec.bucket_names("authenticity_target"),
            spec.bucket_names("complexity_type"),
        )
    )

    def by_axis(position: int, names: list[str]) -> dict[str, int]:
        found = dict.fromkeys(names, 0)
        for cell, n in tracked.items():
            found[cell[position]] = found.get(cell[position], 0) + n
        return found

    gaps = [
        {
            "capacity": c,
            "authenticity": a,
            "complexity": x,
            "count": per_cell - counts.get((c, a, x), 0),
        }
        for c, a, x in cells
        if counts.get((c, a, x), 0) < per_cell
    ]
    return {
        "spec": spec.name,
        "total_combinations": len(cells),
        "total_combinations_tracked": len(tracked),
        "total_examples_generated": total,
        "avg_per_combination": round(total / len(tracked), 2) if tracked else 0.0,
        "authenticity_coverage": by_axis(1, spec.bucket_names("authenticity_target")),
        "complexity_coverage": by_axis(2, spec.bucket_names("complexity_type")),
        "capacity_coverage": by_axis(0, spec.bucket_names("capacity_level")),
        "gaps_to_fill": gaps,
    }


def pattern_diversity(responses: Sequence[str]) -> float:
    """1 minus the mean pairwise similarity of the texts (see module docstring); 0 for < 2."""
    texts = list(responses)[:DIVERSITY_SAMPLE]
    if len(texts) < 2:
        return 0.0
    matrix = process.cdist(texts, texts, scorer=fuzz.ratio, processor=utils.default_process)
    n = len(texts)
    off_diagonal = (float(matrix.sum()) - 100.0 * n) / (n * (n - 1))
    return round(1.0 - off_diagonal / 100.0, 3)


def quality_analysis(
    spec: Spec, records: Sequence[Mapping[str, Any]], target: int | None = None
) -> dict[str, Any]:
    """The seed's quality analysis of accepted examples (records as in examples.jsonl)."""
    from spectrumgen.nodes.validate import check_example  # validation imports the graph

    counts = bucket_counts(spec, records)
    scores = [float(r["authenticity_score"]) for r in records]
    targets = spec.bucket_names("authenticity_target")
    covered = [t for t in targets if counts["authenticity_target"][t]]
    capacity = _capacity_balance(spec, counts["capacity_level"], len(records))
    violations: dict[str, int] = {}
    for record in records:
        for code in {
            reason_code(r) for r in check_example(spec, _scenario(spec, record), _item(record))
        }:
            violations[code] = violations.get(code, 0) + 1
    report = evaluate(spec, target or len(records), records)
    types = spec.bucket_names("complexity_type")
    wanted_cells = set(itertools.product(spec.bucket_names("capacity_level"), targets, types))
    seen_cells = {
        (r["capacity_level"], r["authenticity_target"], r["complexity_type"]) for r in records
    }
    return {
        "examples": len(records),
        "spectrum_coverage": {
            "categories_covered": len(covered),
            "categories_total": len(targets),
            "covered": covered,
            "by_category": counts["authenticity_target"],
            "min_score": min(scores) if scores else None,
            "max_score": max(scores) if scores else None,
            "spread": round(max(scores) - min(scores), 3) if scores else 0.0,
        },
        "complexity_coverage": {
            "types_covered": sum(1 for t in types if counts["complexity_type"][t]),
            "types_total": len(types),
            "by_type": counts["complexity_type"],
        },
        "capacity_balance": capacity,
        "pattern_diversity": pattern_diversity([str(r["response"]) for r in records]),
        "text": text_figures(spec, records),
        "rule_violations": violations,
        "systematic_validation": {
            "meets_spectrum_requirements": report.met and not violations,
            "shortfalls": report.shortfalls,
            "missing_combinations": [
                {"capacity": c, "authenticity": a, "complexity": x}
                for c, a, x in sorted(wanted_cells - seen_cells)
            ],
            "cells_covered": len(seen_cells & wanted_cells),
            "cells_total": len(wanted_cells),
        },
    }


def text_figures(spec: Spec, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-gate flagged share, distinct-2, mean words and diversity per field (module docstring)."""
    rules = spec.example_rules.text_quality
    flagged = dict.fromkeys(GATES, 0)
    for record in records:
        fields = {name: str(record[name]) for name in TEXT_FIELDS}
        for gate in {gate_of(r) for r in item_problems(rules, fields)} - {None}:
            flagged[str(gate)] += 1
    count = max(1, len(records))
    tokens = {name: [words(str(r[name])) for r in records] for name in TEXT_FIELDS}
    return {
        "flagged_share": {gate: round(n / count, 3) for gate, n in flagged.items()},
        "distinct_2": {name: _distinct_2(lists) for name, lists in tokens.items()},
        "mean_words": {
            name: round(sum(map(len, lists)) / count, 1) for name, lists in tokens.items()
        },
        "pattern_diversity": {
            name: pattern_diversity([str(r[name]) for r in records])
            for name in ("context", "response")
        },
    }


def _distinct_2(texts: Sequence[Sequence[str]]) -> float:
    pairs = [tuple(t[i : i + 2]) for t in texts for i in range(len(t) - 1)]
    return round(len(set(pairs)) / len(pairs), 3) if pairs else 0.0


def _capacity_balance(spec: Spec, counts: Mapping[str, int], total: int) -> dict[str, Any]:
    frequencies = spec.frequencies("capacity_level")
    deviation = {
        name: round((counts[name] / total - share) / share, 3) if total else -1.0
        for name, share in frequencies.items()
    }
    return {
        "by_level": dict(counts),
        "relative_deviation": deviation,
        "balanced": bool(total) and all(abs(d) <= BALANCE_TOLERANCE for d in deviation.values()),
    }


def _scenario(spec: Spec, record: Mapping[str, Any]) -> Scenario:
    target = spec.authenticity(record["authenticity_target"]).range
    return Scenario(
        scenario_id=str(record.get("scenario_id", "")),
        capacity_level=record["capacity_level"],
        authenticity_target=record["authenticity_target"],
        complexity_type=record["complexity_type"],
        effective_capacity=record["effective_capacity"],
        authenticity_score=record["authenticity_score"],
        authenticity_low=target.low,
        authenticity_high=target.high,
        support_needed=record["support_needed"],
        support_ceiling=record["support_ceiling"],
    )


def _item(record: Mapping[str, Any]) -> GeneratedItem:
    return GeneratedItem.model_validate(record)
