"""Does the coherence gate tell a reply to its own request from a non sequitur?

    python bench/coherence.py [--rows N]

Three measurements with the embedded model (`spectrumgen.coherence`), each a table of margins
against thresholds:

1. Requests swapped (the embedded backend's case: its contexts hold the scenario's request word
   for word). tests/data/coherence_requests.jsonl holds hand-written replies to situations
   composed from the spec's hints, "<who> asks the character for <asks>, <when>." Matched: the
   reply after its own situation. Moved: the same reply after the same situation asking for the
   request of the row 7 on, a well-formed, on-topic non sequitur. Distractors: the situation
   asking for other requests.
2. Contexts moved (any other context): the labelled set's good rows, each response under its own
   context and under the context 7 rows on. Distractors: exemplar contexts.
3. The embedded model's own output: tests/data/embedded_model_items.jsonl, items the model wrote
   in earlier demo runs that passed the text gates of their day, each labelled by hand as a reply
   that answers its request or not. Which of them today's text gates and the coherence gate keep.

Prints the tables and writes bench/results/coherence.md (not with --rows).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spectrumgen.coherence import coherence_margin  # noqa: E402
from spectrumgen.grounding import grounding_problems  # noqa: E402
from spectrumgen.llm.embedded import embedded_chat_model  # noqa: E402
from spectrumgen.nodes.validate import copies_an_exemplar  # noqa: E402
from spectrumgen.reasons import reason_code  # noqa: E402
from spectrumgen.schemas.example import TEXT_FIELDS, GeneratedItem  # noqa: E402
from spectrumgen.schemas.scenario import Scenario  # noqa: E402
from spectrumgen.schemas.spec import Spec  # noqa: E402
from spectrumgen.specs import load_spec  # noqa: E402
from spectrumgen.text_gates import item_problems, labelled_rows  # noqa: E402

DATA = ROOT / "tests" / "data"
THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
SHIFT = 7


def situation(row: dict[str, str], asks: str | None = None) -> str:
    who = row["who"][0].upper() + row["who"][1:]
    return f"{who} asks the character for {asks or row['asks']}, {row['when']}."


OPENING = re.compile(r"^Capacity ([0-9.]+) allows up to ([0-9.]+) support; they need ([0-9.]+)")


def gate_problems(spec: Spec, item: dict[str, Any]) -> list[str]:
    """Today's text gates, exemplar-copy and stated-number checks on an item (the scenario's
    numbers from the reasoning's opening, which the embedded grammar writes from them)."""
    fields = {name: str(item[name]) for name in TEXT_FIELDS}
    problems = item_problems(spec.example_rules.text_quality, fields)
    model_item = GeneratedItem.model_validate({**item, "scenario_id": "s"})
    problems += copies_an_exemplar(spec, model_item)
    opening = OPENING.match(str(item["reasoning"]))
    if opening:
        capacity, ceiling, need = (float(n) for n in opening.groups())
        scenario = Scenario(
            scenario_id="s",
            capacity_level="medium",
            authenticity_target="authentic",
            complexity_type="baseline",
            effective_capacity=capacity,
            authenticity_score=0.5,
            authenticity_low=0.0,
            authenticity_high=1.0,
            support_needed=need,
            support_ceiling=ceiling,
        )
        problems += grounding_problems(spec, scenario, model_item)
    return problems


def threshold_table(
    spec: Spec, matched: list[float], moved: list[float], seconds: float
) -> list[str]:
    chosen = spec.example_rules.text_quality.min_coherence_margin
    lines = [
        "| min margin | matched kept | moved rejected | precision of kept |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for threshold in sorted({*THRESHOLDS, chosen or 0.0}):
        kept = sum(m >= threshold for m in matched)
        let_through = sum(m >= threshold for m in moved)
        precision = kept / (kept + let_through) if kept + let_through else 1.0
        mark = " (spec)" if threshold == chosen else ""
        lines.append(
            f"| {threshold:+.2f}{mark} | {kept}/{len(matched)} | "
            f"{len(moved) - let_through}/{len(moved)} | {precision:.2f} |"
        )
    return [
        *lines,
        "",
        f"Margins, matched: median {statistics.median(matched):+.3f}, lowest "
        f"{min(matched):+.3f}; moved: median {statistics.median(moved):+.3f}, highest "
        f"{max(moved):+.3f}. {seconds:.2f} s per check (2 cores).",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="only the first N rows of each set")
    args = parser.parse_args()
    spec = load_spec("emotional_authenticity")
    rules = spec.example_rules.text_quality
    chosen = rules.min_coherence_margin or 0.0
    score = embedded_chat_model(seed=0, batch_size=1).reply_logprob

    def margin(context: str, response: str, request: str | None = None) -> float:
        found = coherence_margin(spec, score, context, response, request)
        assert found is not None
        return found

    def limit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rows[: args.rows] if args.rows else rows

    def read(name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line]

    lines = [
        "Coherence gate (`spectrumgen.coherence`, embedded Gemma 3 270M): a reply's mean "
        "log-probability per token after its own context minus after the likeliest of "
        f"{rules.coherence_distractors} distractors, in nats. `python bench/coherence.py`.",
    ]

    Case = tuple[str, str, str | None]  # context, response, request

    def measure(cases: list[tuple[str, Case, Case]]) -> list[str]:
        """The threshold table of (id, matched case, moved case) pairs."""
        matched, moved = [], []
        started = time.perf_counter()
        for name, own, other in cases:
            matched.append(margin(*own))
            moved.append(margin(*other))
            print(f"{name}: own {matched[-1]:+.3f}, moved {moved[-1]:+.3f}", file=sys.stderr)
        seconds = (time.perf_counter() - started) / (2 * len(cases))
        return threshold_table(spec, matched, moved, seconds)

    # 1. Requests swapped.
    rows = limit(read("coherence_requests.jsonl"))
    swaps = [rows[(i + SHIFT) % len(rows)]["asks"] for i in range(len(rows))]
    table_1 = measure(
        [
            (
                row["id"],
                (situation(row), row["response"], row["asks"]),
                (situation(row, other), row["response"], other),
            )
            for row, other in zip(rows, swaps, strict=True)
        ]
    )
    lines += [
        "",
        f"## 1. Requests swapped: {len(rows)} hand-written replies "
        "(tests/data/coherence_requests.jsonl)",
        "",
        "Each reply after its own situation (matched) and after the same situation asking for "
        f"the request {SHIFT} rows on (moved); distractors: the situation asking for other "
        "requests. This is the test the embedded backend's examples get.",
        "",
        *table_1,
    ]

    # 2. Contexts moved.
    good = limit([row for row in labelled_rows(DATA / "text_quality_labelled.jsonl")])
    good = [row for row in good if row["label"] == "good"]
    others = [good[(i + SHIFT) % len(good)]["context"] for i in range(len(good))]
    table_2 = measure(
        [
            (row["id"], (row["context"], row["response"], None), (other, row["response"], None))
            for row, other in zip(good, others, strict=True)
        ]
    )
    lines += [
        "",
        f"## 2. Contexts moved: the {len(good)} good rows of "
        "tests/data/text_quality_labelled.jsonl",
        "",
        f"Each response under its own context and under the context {SHIFT} rows on; "
        "distractors: exemplar contexts (the test for a context without the scenario's request).",
        "",
        *table_2,
    ]

    # 3. The embedded model's own items.
    items = limit(read("embedded_model_items.jsonl"))
    table = [
        "| item | answers (by hand) | gates today | distractors | margin | kept |",
        "| --- | --- | --- | --- | ---: | --- |",
    ]
    kept: dict[tuple[str, bool], list[bool]] = {}
    for item in items:
        problems = gate_problems(spec, item)
        swapped = bool(item["asks"]) and str(item["asks"]) in str(item["context"])
        value = margin(str(item["context"]), str(item["response"]), item["asks"] or None)
        keep = not problems and value >= chosen
        test = "requests" if swapped else "exemplars"
        kept.setdefault((test, bool(item["coherent"])), []).append(keep)
        gates = ", ".join(sorted({reason_code(p) for p in problems})) or "pass"
        table.append(
            f"| {item['id']} | {'yes' if item['coherent'] else 'no'} | {gates} | {test} | "
            f"{value:+.3f} | {'kept' if keep else '-'} |"
        )
    summary = [
        "| distractors | answer: kept | do not answer: kept |",
        "| --- | ---: | ---: |",
        *(
            f"| {test} | {sum(kept.get((test, True), []))}/{len(kept.get((test, True), []))} | "
            f"{sum(kept.get((test, False), []))}/{len(kept.get((test, False), []))} |"
            for test in ("requests", "exemplars")
        ),
    ]
    coherent = sum(bool(item["coherent"]) for item in items)
    lines += [
        "",
        f"## 3. The embedded model's own output: {len(items)} items "
        "(tests/data/embedded_model_items.jsonl)",
        "",
        "Items the model wrote in earlier demo runs that passed the gates of their day; "
        f"{coherent} of them answer their request (labelled by hand). Today's gates: the text "
        "gates and the stated numbers (the scenario's read from the reasoning's opening, which "
        "the grammar wrote). Margins against swapped requests where the context holds the "
        "scenario's request (every context the embedded backend writes now does), else against "
        f"exemplar contexts; kept: passes the gates and a margin of {chosen:+.2f}.",
        "",
        *summary,
        "",
        *table,
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.rows:
        (ROOT / "bench" / "results" / "coherence.md").write_text(text)


if __name__ == "__main__":
    main()
